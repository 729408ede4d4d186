"""Score two customers with whatever model the `churn@champion` alias points at."""

from __future__ import annotations

import pandas as pd

import loopline

customers = pd.DataFrame(
    [
        {"tenure_months": 2, "monthly_charges": 99.0, "support_calls": 8, "contract": "monthly"},
        {"tenure_months": 70, "monthly_charges": 25.0, "support_calls": 0, "contract": "two-year"},
    ]
)
model = loopline.pyfunc.load_model("models:/churn@champion")
print("churn probability:", model.predict_proba(customers)[:, 1].round(3).tolist())
