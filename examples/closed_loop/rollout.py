"""The deployment half of the demo: simulated customers send traffic and, later, the truth about
who churned; a canary promotes a better model step by step, a broken one is rolled back, and
monitoring sees the customer population shift.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

CONTRACTS = ["monthly", "yearly", "two-year"]


def customer(rng: random.Random, shifted: bool) -> tuple[dict[str, Any], int]:
    """One customer and whether they churn. After the shift, newer customers on monthly
    contracts with many support calls arrive, and charges start to drive churn."""
    if shifted:
        tenure = rng.randint(1, 12)
        charges = round(rng.uniform(80, 160), 2)
        calls = rng.randint(3, 12)
        contract = rng.choice(["monthly", "monthly", "yearly"])
        risk = 0.9 if charges > 110 else 0.05
    else:
        tenure = rng.randint(1, 72)
        charges = round(rng.uniform(20, 120), 2)
        calls = rng.randint(0, 9)
        contract = rng.choice(CONTRACTS)
        risk = 0.02 * calls + (0.3 if contract == "monthly" else 0) - 0.004 * tenure
    features = {
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        "contract": contract,
    }
    return features, int(rng.random() < max(0.02, risk))


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()
            return reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)
    except (urllib.error.URLError, OSError):
        return 0, {}


class Customers:
    """A background stream of single-customer requests, each followed by its label."""

    def __init__(self, url: str, seed: int = 42) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.shifted = False
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from serving import v2_request

        while not self._stop.is_set():
            features, churned = customer(self.rng, self.shifted)
            user = f"customer-{self.rng.randint(0, 10**6)}"
            body = v2_request([features])
            del body["outputs"]
            status, headers = _post(f"{self.url}/v2/models/churn/infer", body, {"x-user-id": user})
            self.sent += 1
            if status != 200:
                self.failed += 1
                continue
            label = {"request_id": headers.get("x-request-id", ""), "label": churned}
            _post(f"{self.url}/feedback", label, {})
            time.sleep(0.005)

    def wait_for(self, requests: int, timeout: float = 120.0) -> None:
        target = self.sent + requests
        deadline = time.monotonic() + timeout
        while self.sent < target:
            if time.monotonic() > deadline:
                sys.exit("demo failed: simulated customers could not reach the server")
            time.sleep(0.1)
