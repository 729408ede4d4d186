"""Pipeline stage `features`: join the monthly customer tables into one feature table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract"]

tables = [pd.read_csv(f) for f in sorted(Path("data/raw").glob("*.csv"))]
customers = pd.concat(tables, ignore_index=True).drop_duplicates("customer_id")
customers[[*FEATURES, "churned"]].to_csv("data/features.csv", index=False)
print(f"{len(customers)} customers, churn rate {customers.churned.mean():.3f}")
