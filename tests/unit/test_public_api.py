"""Every package's ``__all__`` is its public face: each name must resolve, and nothing else."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "loopline",
    "loopline.core",
    "loopline.store",
    "loopline.objects",
    "loopline.data",
    "loopline.pipeline",
    "loopline.tracking",
    "loopline.models",
    "loopline.registry",
    "loopline.serving",
    "loopline.rollout",
    "loopline.deploy",
    "loopline.monitoring",
    "loopline.server",
    "loopline.cli",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_resolve(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no public names"
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_docstring_says_what_it_owns(package: str) -> None:
    doc = importlib.import_module(package).__doc__ or ""
    assert len(doc.split()) > 10


def test_unknown_attribute_is_an_attribute_error() -> None:
    import loopline

    with pytest.raises(AttributeError, match="no attribute"):
        loopline.no_such_thing  # noqa: B018


def test_internal_modules_are_private_by_name() -> None:
    """Public modules of `core` and `store` are listed here on purpose; anything new must be
    either added deliberately or named with a leading underscore."""
    import pkgutil

    import loopline.store

    public = {
        m.name for m in pkgutil.iter_modules(loopline.store.__path__) if not m.name.startswith("_")
    }
    assert public == {"data_versions", "monitor_reports", "raw"}


def test_submodules_are_reachable_as_attributes_after_import_loopline() -> None:
    import subprocess
    import sys

    code = (
        "import loopline\n"
        "assert loopline.models.sklearn.__name__ == 'loopline.models.sklearn'\n"
        "assert loopline.serving.inference_log.__name__ == 'loopline.serving.inference_log'\n"
        "try:\n    loopline.models.no_such_module\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
