"""``loopline monitor``: the command group of model monitoring; its commands live in
``monitor_ops`` (performance, alert rules, dashboard, scheduled evaluations)."""

from __future__ import annotations

import click

from loopline.cli import monitor_ops

__all__ = ["monitor_group"]


@click.group("monitor")
def monitor_group() -> None:
    """Watch served models: performance on delayed labels, Prometheus gauges, alert rules and a
    Grafana dashboard."""


for _command in monitor_ops.COMMANDS:
    monitor_group.add_command(_command)
