"""The content-addressed object store: hashing workspace paths, the local cache, remotes.

Owns: object ids (BLAKE3 hex, ``.dir`` for directory manifests), the local cache layout and its
crash-safe writes, the state cache that spares re-hashing, workspace links, and transfers to and
from fsspec remotes (local folder, S3, HTTP).

May import: ``loopline.core``. Knows nothing of pointer files, pipelines or the metadata store.
"""

from loopline.objects.build import BuiltObject, build_object
from loopline.objects.checkout import CheckoutStats, materialize
from loopline.objects.manifest import DIR_SUFFIX, Manifest, ManifestEntry, is_dir_oid
from loopline.objects.odb import ObjectStore, PendingObject
from loopline.objects.remote import Remote
from loopline.objects.state import StateCache
from loopline.objects.transfer import TransferResult, pull_objects, push_objects

__all__ = [
    "DIR_SUFFIX",
    "BuiltObject",
    "CheckoutStats",
    "Manifest",
    "ManifestEntry",
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
]
