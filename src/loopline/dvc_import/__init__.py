"""Adopting a DVC repository: ``.dvc`` files, ``dvc.lock``, DVC's md5 cache and its remotes
become Loopline's pointer files, lock, blake3 cache and remotes, in place, with a report.

Owns: reading DVC's files (never writing them), turning md5 objects into blake3 objects
(verified against DVC's md5 on the way), and the import report.

May import: ``loopline.core``, ``loopline.objects``, ``loopline.data`` and
``loopline.pipeline`` (lock format and change detection).

Public names: :func:`import_dvc`, :class:`ImportReport`, :class:`ImportItem`.
"""

from __future__ import annotations

from loopline.dvc_import._adopt import import_dvc
from loopline.dvc_import._report import ImportItem, ImportReport

__all__ = ["ImportItem", "ImportReport", "import_dvc"]
