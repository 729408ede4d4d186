"""Loopline: the production-ML lifecycle as one closed loop.

Public Python API (thin over the capability packages; nothing heavy is imported until used).
Tracking reads like MLflow::

    import loopline

    loopline.set_experiment("customer_churn")
    with loopline.start_run():
        loopline.log_param("learning_rate", 0.01)
        loopline.log_metric("accuracy", 0.91)

Data versioning::

    ws = loopline.Workspace()          # the project around the current folder
    loopline.add(ws, ["data/raw"])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Workspace": "loopline.data",
    "add": "loopline.data",
    "status": "loopline.data",
    "checkout": "loopline.data",
    "push": "loopline.data",
    "pull": "loopline.data",
    "gc": "loopline.data",
    "diff": "loopline.data",
    "init_project": "loopline.data",
    "LooplineError": "loopline.core.errors",
    "TrackingClient": "loopline.tracking",
    "RegistryClient": "loopline.registry",
    "register_model": "loopline.registry",
    "active_run": "loopline.tracking",
    "end_run": "loopline.tracking",
    "flush": "loopline.tracking",
    "get_experiment_by_name": "loopline.tracking",
    "get_metric_history": "loopline.tracking",
    "get_run": "loopline.tracking",
    "get_tracking_uri": "loopline.tracking",
    "log_artifact": "loopline.tracking",
    "log_artifacts": "loopline.tracking",
    "log_input": "loopline.tracking",
    "log_dict": "loopline.tracking",
    "log_figure": "loopline.tracking",
    "log_metric": "loopline.tracking",
    "log_metrics": "loopline.tracking",
    "log_param": "loopline.tracking",
    "log_params": "loopline.tracking",
    "log_text": "loopline.tracking",
    "search_runs": "loopline.tracking",
    "set_experiment": "loopline.tracking",
    "set_tag": "loopline.tracking",
    "set_tags": "loopline.tracking",
    "set_tracking_uri": "loopline.tracking",
    "start_run": "loopline.tracking",
}

__all__ = ["__version__", *sorted(_LAZY), "pyfunc", "sklearn"]


# Flavour modules reached as attributes, as in MLflow: loopline.sklearn.log_model(...).
_MODULES = {"sklearn": "loopline.models.sklearn", "pyfunc": "loopline.models.pyfunc"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        import importlib

        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    from loopline.core.lazy import import_submodule

    submodule = import_submodule(__name__, name)  # loopline.models.sklearn after import loopline
    if submodule is not None:
        return submodule
    raise AttributeError(f"module 'loopline' has no attribute {name!r}")
