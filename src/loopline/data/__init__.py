"""Data versioning: pointer files in git, content in the object store, DVC's workflow.

Owns: pointer files (``*.loopline``), ``.gitignore`` upkeep, and the verbs ``init``, ``add``,
``status``, ``checkout``, ``push``, ``pull``, ``gc``, ``diff``, ``versions`` and remote
configuration.

May import: ``loopline.core``, ``loopline.objects``, ``loopline.store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.data.add import AddResult, add
    from loopline.data.checkout import CheckoutResult, checkout
    from loopline.data.diff import DataDiff, diff
    from loopline.data.gc import GcResult, gc
    from loopline.data.init import init_project
    from loopline.data.pointer import POINTER_SUFFIX, Pointer
    from loopline.data.remotes import (
        RemoteEntry,
        add_remote,
        list_remotes,
        modify_remote,
        remove_remote,
        set_default_remote,
    )
    from loopline.data.status import DataStatus, status, status_as_json
    from loopline.data.transfer import PullResult, PushResult, pull, push
    from loopline.data.versions import TrackedVersion, list_versions
    from loopline.data.workspace import Workspace

# Public names resolve on first use, so importing one verb does not import them all.
_LAZY = {
    "AddResult": "loopline.data.add",
    "add": "loopline.data.add",
    "CheckoutResult": "loopline.data.checkout",
    "checkout": "loopline.data.checkout",
    "DataDiff": "loopline.data.diff",
    "diff": "loopline.data.diff",
    "GcResult": "loopline.data.gc",
    "gc": "loopline.data.gc",
    "init_project": "loopline.data.init",
    "POINTER_SUFFIX": "loopline.data.pointer",
    "Pointer": "loopline.data.pointer",
    "RemoteEntry": "loopline.data.remotes",
    "add_remote": "loopline.data.remotes",
    "list_remotes": "loopline.data.remotes",
    "modify_remote": "loopline.data.remotes",
    "remove_remote": "loopline.data.remotes",
    "set_default_remote": "loopline.data.remotes",
    "DataStatus": "loopline.data.status",
    "status": "loopline.data.status",
    "status_as_json": "loopline.data.status",
    "PullResult": "loopline.data.transfer",
    "PushResult": "loopline.data.transfer",
    "pull": "loopline.data.transfer",
    "push": "loopline.data.transfer",
    "Workspace": "loopline.data.workspace",
    "TrackedVersion": "loopline.data.versions",
    "list_versions": "loopline.data.versions",
}

__all__ = [
    "POINTER_SUFFIX",
    "AddResult",
    "CheckoutResult",
    "DataDiff",
    "DataStatus",
    "GcResult",
    "Pointer",
    "PullResult",
    "PushResult",
    "RemoteEntry",
    "TrackedVersion",
    "Workspace",
    "add",
    "add_remote",
    "checkout",
    "diff",
    "gc",
    "init_project",
    "list_remotes",
    "list_versions",
    "modify_remote",
    "pull",
    "push",
    "remove_remote",
    "set_default_remote",
    "status",
    "status_as_json",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
