"""Train a churn classifier on the versioned customer tables and track it with Loopline.

Usage: python train.py MODEL [PARAM=VALUE ...]   (MODEL: logreg or forest)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import loopline

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract"]


def load_customers(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(f) for f in sorted(folder.glob("*.csv"))], ignore_index=True)


def build(kind: str, params: dict[str, str]) -> object:
    prepare = make_column_transformer(
        (StandardScaler(), ["tenure_months", "monthly_charges", "support_calls"]),
        (OneHotEncoder(handle_unknown="ignore"), ["contract"]),
    )
    if kind == "logreg":
        return make_pipeline(
            prepare, LogisticRegression(C=float(params.get("C", "1.0")), max_iter=500)
        )
    return make_pipeline(
        prepare,
        RandomForestClassifier(
            n_estimators=int(params.get("n_estimators", "50")),
            max_depth=int(params.get("max_depth", "6")),
            random_state=0,
        ),
    )


def main() -> None:
    kind = sys.argv[1]
    params = dict(arg.split("=", 1) for arg in sys.argv[2:])
    table = load_customers(Path("data/raw"))
    X_train, X_test, y_train, y_test = train_test_split(
        table[FEATURES], table["churned"], test_size=0.25, random_state=0, stratify=table["churned"]
    )
    loopline.set_experiment("customer_churn")
    with loopline.start_run(
        run_name=f"{kind}-" + "-".join(f"{k}{v}" for k, v in params.items())
    ) as run:
        loopline.log_param("model", kind)
        loopline.log_params(params)
        model = build(kind, params).fit(X_train, y_train)
        scores = model.predict_proba(X_test)[:, 1]
        loopline.log_metric("accuracy", accuracy_score(y_test, model.predict(X_test)))
        loopline.log_metric("roc_auc", roc_auc_score(y_test, scores))
        loopline.sklearn.log_model(model, "model", input_example=X_test[:3])
    print(run.info.run_id)


if __name__ == "__main__":
    main()
