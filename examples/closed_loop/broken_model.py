"""A deliberately broken challenger for the demo: it predicts that every customer churns.
Registered as the next version of `churn`, it must be rolled back by the canary."""

from __future__ import annotations

import pandas as pd
from sklearn.dummy import DummyClassifier

import loopline

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract"]

table = pd.read_csv("data/features.csv")
model = DummyClassifier(strategy="constant", constant=1).fit(table[FEATURES], table["churned"])
loopline.set_experiment("customer_churn")
with loopline.start_run(run_name="always-churn"):
    loopline.log_input("data/features.csv", context="training")
    loopline.sklearn.log_model(
        model, "model", input_example=table[FEATURES][:3], registered_model_name="churn"
    )
print("registered a broken challenger that predicts churn for every customer")
