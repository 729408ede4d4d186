"""Progressive delivery: traffic policies between model variants and their Istio rendering, and
the A/B statistics that judge variants.

Owns: traffic policies (weights, sticky keys, pins, shadows, faults — ``policy``), the Istio
VirtualService/DestinationRule rendering and weight patches (``istio``), A/B statistics
(``statistics``: z and Welch tests, mSPRT, Holm, sample-ratio mismatch) and the A/B report over a
table of outcomes (``abtest``).

May import: ``loopline.core``. The policy module stays free of NumPy and SciPy: model servers
import it on their hot path; the statistics load SciPy only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.rollout.abtest import ABReport, ab_test_report, read_outcome_table
    from loopline.rollout.policy import Fault, HeaderRoute, Shadow, TrafficPolicy

_LAZY = {
    "ABReport": "loopline.rollout.abtest",
    "Fault": "loopline.rollout.policy",
    "HeaderRoute": "loopline.rollout.policy",
    "Shadow": "loopline.rollout.policy",
    "TrafficPolicy": "loopline.rollout.policy",
    "ab_test_report": "loopline.rollout.abtest",
    "read_outcome_table": "loopline.rollout.abtest",
}

__all__ = [
    "ABReport",
    "Fault",
    "HeaderRoute",
    "Shadow",
    "TrafficPolicy",
    "ab_test_report",
    "read_outcome_table",
]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
