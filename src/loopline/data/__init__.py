"""Data versioning: pointer files in git, content in the object store, DVC's workflow.

Owns: pointer files (``*.loopline``), ``.gitignore`` upkeep, and the verbs ``init``, ``add``,
``status``, ``checkout``, ``push``, ``pull``, ``gc``, ``diff`` and remote configuration.

May import: ``loopline.core``, ``loopline.objects``, ``loopline.store``.
"""

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
from loopline.data.workspace import Workspace

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
    "Workspace",
    "add",
    "add_remote",
    "checkout",
    "diff",
    "gc",
    "init_project",
    "list_remotes",
    "modify_remote",
    "pull",
    "push",
    "remove_remote",
    "set_default_remote",
    "status",
    "status_as_json",
]
