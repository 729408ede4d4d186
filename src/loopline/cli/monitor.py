"""``loopline monitor``: drift, performance and the reports that watch a served model."""

from __future__ import annotations

import importlib

import click

__all__ = ["monitor_group"]

# name -> (module, attribute): each command module is imported only when it runs or help lists it.
_COMMANDS = {
    "drift": ("loopline.cli.monitor_drift", "drift_command"),
    "report": ("loopline.cli.monitor_drift", "report_command"),
    "reports": ("loopline.cli.monitor_drift", "reports_command"),
    "performance": ("loopline.cli.monitor_ops", "performance_command"),
    "alerts": ("loopline.cli.monitor_ops", "alerts_command"),
    "dashboard": ("loopline.cli.monitor_ops", "dashboard_command"),
    "run": ("loopline.cli.monitor_ops", "run_command"),
    "evaluations": ("loopline.cli.monitor_ops", "evaluations_command"),
}


class _LazyMonitorGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group("monitor", cls=_LazyMonitorGroup)
def monitor_group() -> None:
    """Watch models: data drift between tables or in a served model's traffic, performance on
    delayed labels, Prometheus gauges, alert rules, a Grafana dashboard, and saved reports."""
