"""Loading scikit-learn models without executing arbitrary code.

skops files are checked before loading: every type they would construct must come from a
known-safe package (scikit-learn, NumPy, SciPy, ...). Pickle files can run any code when
loaded, so they are refused unless the caller says ``trusted=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, MissingExtra

__all__ = ["load_pickle", "load_skops", "save_skops"]

_SAFE_PREFIXES = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "builtins.",
    "collections.",
    "_codecs.",
    "joblib.numpy_pickle.",
)


def save_skops(model: Any, path: Path) -> None:
    try:
        import skops.io as sio
    except ImportError:
        raise MissingExtra("skops", "ml") from None
    sio.dump(model, path)


def load_skops(path: Path, *, trusted: bool = False) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise MissingExtra("skops", "ml") from None
    untrusted = sio.get_untrusted_types(file=path)
    unsafe = [t for t in untrusted if not t.startswith(_SAFE_PREFIXES)]
    if unsafe and not trusted:
        raise InvalidInput(
            f"model file {path.name} would construct types that are not known to be safe: "
            f"{', '.join(sorted(unsafe)[:5])}",
            hint="only if you trust where the model came from: 'loopline serve --trusted', "
            "or trusted=True in Python",
        )
    return sio.load(path, trusted=list(untrusted))


def load_pickle(path: Path, *, trusted: bool = False) -> Any:
    if not trusted:
        raise InvalidInput(
            f"model file {path.name} is a pickle, which can run arbitrary code when loaded",
            hint="only if you trust where the model came from: 'loopline serve --trusted', or "
            "trusted=True in Python; or re-save it with serialization_format='skops'",
        )
    try:
        import cloudpickle as pickle_module  # what MLflow uses, when installed
    except ImportError:
        import pickle as pickle_module
    with open(path, "rb") as handle:
        return pickle_module.load(handle)
