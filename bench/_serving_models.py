"""The two churn models every server serves, and the request bodies of each protocol.

The table is synthetic (``make_classification``: 20 float features with churn-like names,
10,000 rows, fixed seed). Both estimators are fitted once, here, on a DataFrame, pickled, and
each tool then writes that same fitted object in its own format, in its own virtualenv.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FEATURES",
    "FittedModel",
    "Protocol",
    "fit_models",
    "read_predictions",
    "request_body",
]

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "late_payments",
    "logins_per_week",
    "data_usage_gb",
    "contract_months",
    "num_products",
    "discount_pct",
    "age",
    "household_size",
    "satisfaction",
    "complaints",
    "avg_session_min",
    "days_since_login",
    "referrals",
    "plan_changes",
    "autopay",
    "paperless",
]
TRAIN_ROWS = 10_000
REQUEST_ROWS = 32  # the larger request; the single-row request is its first row

# The protocols, by the body they POST: V2 tensor, MLflow dataframe_split, BentoML's JSON.
Protocol = str
V2, INVOCATIONS, BENTOML = "v2", "invocations", "bentoml"


@dataclass(frozen=True)
class FittedModel:
    name: str  # also the served model's name
    description: str
    pickle_path: Path
    rows: list[list[float]]  # REQUEST_ROWS rows not seen in training
    expected: list[int]  # the local estimator's predict() on `rows`

    def expected_for(self, n_rows: int) -> list[int]:
        return self.expected[:n_rows]


def _estimators() -> dict[str, tuple[str, Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "churn_logreg": (
            "StandardScaler + LogisticRegression",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        ),
        "churn_hgb": (
            "HistGradientBoostingClassifier, 100 iterations",
            HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0),
        ),
    }


def churn_table() -> tuple[Any, Any]:
    """(features DataFrame, churned 0/1 labels): TRAIN_ROWS + REQUEST_ROWS rows."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=TRAIN_ROWS + REQUEST_ROWS,
        n_features=len(FEATURES),
        n_informative=10,
        n_redundant=4,
        weights=[0.75],
        flip_y=0.02,
        random_state=7,
    )
    return pd.DataFrame(x, columns=FEATURES), y


def fit_models(folder: Path) -> list[FittedModel]:
    """Fit both estimators and pickle them under `folder`, with their example rows."""
    frame, labels = churn_table()
    train, held_out = frame.iloc[:TRAIN_ROWS], frame.iloc[TRAIN_ROWS:]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input_example.json").write_text(held_out.iloc[:5].to_json(orient="split"))
    models = []
    for name, (description, estimator) in _estimators().items():
        estimator.fit(train, labels[:TRAIN_ROWS])
        path = folder / f"{name}.pkl"
        path.write_bytes(pickle.dumps(estimator, protocol=5))
        expected = [int(v) for v in estimator.predict(held_out)]
        rows = [[float(v) for v in row] for row in held_out.to_numpy()]
        models.append(FittedModel(name, description, path, rows, expected))
    return models


def input_example_path(folder: Path) -> Path:
    return folder / "input_example.json"


def request_body(protocol: Protocol, rows: Sequence[Sequence[float]]) -> bytes:
    """The same rows as each protocol spells them (floats keep full precision in JSON)."""
    if protocol == V2:
        flat = [v for row in rows for v in row]
        tensor = {"name": "input-0", "shape": [len(rows), len(FEATURES)], "datatype": "FP64"}
        body: Any = {"inputs": [{**tensor, "data": flat}]}
    elif protocol == INVOCATIONS:
        body = {"dataframe_split": {"columns": FEATURES, "data": [list(r) for r in rows]}}
    elif protocol == BENTOML:
        body = {"rows": [list(r) for r in rows]}
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return json.dumps(body).encode()


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, list):
        return [v for item in values for v in _flatten(item)]
    return [values]


def read_predictions(protocol: Protocol, answer: Any) -> list[int]:
    """The predicted labels in a server's JSON answer."""
    if protocol == V2:
        values = answer["outputs"][0]["data"]
    elif protocol == INVOCATIONS:
        values = answer["predictions"]
    elif protocol == BENTOML:
        values = answer
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return [round(float(v)) for v in _flatten(values)]
