"""Monitoring of served models: realized performance once delayed labels arrive, Prometheus
gauges, alerting rules and a Grafana dashboard over them.

Owns: the join of feedback to the inference log (``labelled``), windowed performance and the
champion/challenger comparison (``performance``), the monitoring gauges and their ``/metrics``
endpoint (``exporter``), alerting rules (``alerts``), the dashboard (``dashboard``) and scheduled
evaluations (``schedule``).

May import: ``loopline.core``, ``loopline.store`` and the inference log readers of
``loopline.serving``. NumPy, pyarrow and scikit-learn load only when a monitor runs.
"""

from __future__ import annotations
