"""Pipeline stage `train@NAME`: fit the churn model NAME of params.yaml, track it with Loopline,
and write its metrics to metrics/NAME.json.

Usage: python train.py NAME
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import loopline

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract"]


def build(params: dict[str, Any]) -> Any:
    prepare = make_column_transformer(
        (StandardScaler(), ["tenure_months", "monthly_charges", "support_calls"]),
        (OneHotEncoder(handle_unknown="ignore"), ["contract"]),
    )
    if params["kind"] == "logreg":
        return make_pipeline(prepare, LogisticRegression(C=float(params["C"]), max_iter=500))
    forest = RandomForestClassifier(
        n_estimators=int(params["n_estimators"]),
        max_depth=int(params["max_depth"]),
        random_state=0,
    )
    return make_pipeline(prepare, forest)


def main() -> None:
    name = sys.argv[1]
    params = yaml.safe_load(Path("params.yaml").read_text())["models"][name]
    table = pd.read_csv("data/features.csv")
    X_train, X_test, y_train, y_test = train_test_split(
        table[FEATURES], table["churned"], test_size=0.25, random_state=0, stratify=table["churned"]
    )
    loopline.set_experiment("customer_churn")
    with loopline.start_run(run_name=name) as run:
        loopline.log_input("data/features.csv", context="training")
        loopline.log_params({"model": name, **params})
        model = build(params).fit(X_train, y_train)
        metrics = {
            "accuracy": accuracy_score(y_test, model.predict(X_test)),
            "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]),
        }
        loopline.log_metrics(metrics)
        loopline.sklearn.log_model(model, "model", input_example=X_test[:3])
    Path("metrics").mkdir(exist_ok=True)
    Path(f"metrics/{name}.json").write_text(json.dumps(metrics))
    print(f"{name}: roc_auc {metrics['roc_auc']:.4f} (run {run.info.run_id})")


if __name__ == "__main__":
    main()
