"""The content-addressed object store: hashing workspace paths, the local cache, remotes.

Owns: object ids (BLAKE3 hex, ``.dir`` for directory manifests), the local cache layout and its
crash-safe writes, the state cache that spares re-hashing, workspace links, and transfers to and
from fsspec remotes (local folder, S3, HTTP).

May import: ``loopline.core``. Knows nothing of pointer files, pipelines or the metadata store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.objects.batch import ObjectBatch, store_files, store_path
    from loopline.objects.build import BuiltObject, build_object
    from loopline.objects.checkout import CheckoutStats, materialize
    from loopline.objects.manifest import DIR_SUFFIX, Manifest, ManifestEntry, is_dir_oid
    from loopline.objects.odb import ObjectStore, PendingObject
    from loopline.objects.remote import Remote
    from loopline.objects.state import StateCache
    from loopline.objects.transfer import TransferResult, pull_objects, push_objects

# Public names resolve on first use, so importing one verb does not import them all.
_LAZY = {
    "BuiltObject": "loopline.objects.build",
    "ObjectBatch": "loopline.objects.batch",
    "store_files": "loopline.objects.batch",
    "store_path": "loopline.objects.batch",
    "build_object": "loopline.objects.build",
    "CheckoutStats": "loopline.objects.checkout",
    "materialize": "loopline.objects.checkout",
    "DIR_SUFFIX": "loopline.objects.manifest",
    "Manifest": "loopline.objects.manifest",
    "ManifestEntry": "loopline.objects.manifest",
    "is_dir_oid": "loopline.objects.manifest",
    "ObjectStore": "loopline.objects.odb",
    "PendingObject": "loopline.objects.odb",
    "Remote": "loopline.objects.remote",
    "StateCache": "loopline.objects.state",
    "TransferResult": "loopline.objects.transfer",
    "pull_objects": "loopline.objects.transfer",
    "push_objects": "loopline.objects.transfer",
}

__all__ = [
    "DIR_SUFFIX",
    "BuiltObject",
    "CheckoutStats",
    "Manifest",
    "ManifestEntry",
    "ObjectBatch",
    "ObjectStore",
    "PendingObject",
    "Remote",
    "StateCache",
    "TransferResult",
    "build_object",
    "is_dir_oid",
    "materialize",
    "pull_objects",
    "push_objects",
    "store_files",
    "store_path",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
