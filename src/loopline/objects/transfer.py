"""Moving objects between the local cache and a remote, many at a time, verified on arrival."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loopline.core.errors import NotFound
from loopline.core.hashing import hash_file
from loopline.objects.manifest import DIR_SUFFIX, is_dir_oid
from loopline.objects.odb import ObjectStore, arrived_corrupted
from loopline.objects.remote import Remote

__all__ = ["TransferResult", "pull_objects", "push_objects"]

_BATCH = 2000  # objects published per syncfs when pulling


@dataclass(frozen=True)
class TransferResult:
    transferred: int
    already_there: int
    missing: list[str]
    corrupt: list[str] = field(default_factory=list)  # damaged locally: quarantined, not sent
    repaired: int = 0  # damaged remote copies replaced (``verify_remote``)


def _expand_local(odb: ObjectStore, oids: Iterable[str]) -> tuple[list[str], list[str]]:
    """Every object under ``oids`` (manifests expanded) that the local cache holds, and the rest."""
    present: list[str] = []
    missing: list[str] = []
    seen: set[str] = set()
    for oid in oids:
        if oid in seen:
            continue
        seen.add(oid)
        if not odb.exists(oid):
            missing.append(oid)
            continue
        present.append(oid)
        if is_dir_oid(oid):
            for entry in odb.read_manifest(oid).entries:
                if entry.hash not in seen:
                    seen.add(entry.hash)
                    (present if odb.exists(entry.hash) else missing).append(entry.hash)
    return present, missing


def push_objects(
    odb: ObjectStore,
    remote: Remote,
    oids: Iterable[str],
    *,
    jobs: int,
    on_count: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
    verify_remote: bool = False,
) -> TransferResult:
    """Upload what the remote lacks. An object whose bytes no longer match its id is never
    uploaded (it is quarantined and reported); with ``verify_remote`` the remote's copies are
    downloaded and re-hashed, and damaged ones are replaced."""
    remote.refuse_if_read_only()
    present, missing = _expand_local(odb, oids)
    corrupt = odb.find_corrupt(present)
    if corrupt:
        present = [o for o in present if o not in set(corrupt)]
    there = remote.existing(present, jobs=jobs)
    damaged: set[str] = set()
    if verify_remote and there:
        damaged = _damaged_on_remote(odb, remote, sorted(there), jobs)
        there -= damaged
    # Every object about to be sent is re-hashed, whatever its stat says (a file edited in
    # place keeps its size; `touch -r` restores its mtime): a damaged local copy never
    # reaches a remote, and never "repairs" a remote copy that was intact.
    sending = [o for o in present if o not in there]
    bad = odb.find_corrupt(sending, verify=True)
    if bad:
        corrupt = [*corrupt, *bad]
        sending = [o for o in sending if o not in set(bad)]
    # File objects before manifests: a manifest on the remote promises its files are there too.
    todo = sorted(sending, key=is_dir_oid)
    if on_count is not None:
        on_count(len(todo))

    def send(oid: str) -> None:
        remote.upload(odb.path(oid), oid)
        if on_done is not None:
            on_done(1)

    files = [o for o in todo if not is_dir_oid(o)]
    manifests = [o for o in todo if is_dir_oid(o)]
    remote.run_parallel("upload objects", send, files, jobs=jobs)
    remote.run_parallel("upload objects", send, manifests, jobs=jobs)
    repaired = sum(1 for o in todo if o in damaged)  # replaced by a verified local copy
    return TransferResult(
        len(todo), len(present) - len(todo) - len(bad), missing, corrupt, repaired
    )


def _damaged_on_remote(odb: ObjectStore, remote: Remote, oids: list[str], jobs: int) -> set[str]:
    """The remote copies among ``oids`` whose bytes do not match their ids."""

    def damaged(oid: str) -> bool:
        tmp = odb.new_tmp_path()
        try:
            remote.download(oid, tmp)
            actual = hash_file(tmp) + (DIR_SUFFIX if is_dir_oid(oid) else "")
        finally:
            tmp.unlink(missing_ok=True)
        return actual != oid

    flags = remote.run_parallel("verify objects", damaged, oids, jobs=jobs)
    return {oid for oid, bad in zip(oids, flags, strict=True) if bad}


def pull_objects(
    odb: ObjectStore,
    remote: Remote,
    oids: Iterable[str],
    *,
    jobs: int,
    on_count: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
    keep_going: bool = False,
) -> TransferResult:
    """Download what the cache lacks, verified on arrival. An object that arrives damaged is
    not stored; the others are. Without ``keep_going`` that raises :class:`IntegrityError`
    at the end; with it the damaged ids are returned in ``corrupt``."""
    wanted = list(dict.fromkeys(oids))
    # A damaged local copy is quarantined first, so this pull fetches a good one.
    odb.find_corrupt(o for o in wanted if is_dir_oid(o))
    manifests = [o for o in wanted if is_dir_oid(o) and not odb.exists(o)]
    bad: list[str] = []
    transferred = _fetch(odb, remote, manifests, jobs, None, bad)
    files: list[str] = []
    for oid in wanted:
        if is_dir_oid(oid):
            if not odb.exists(oid):
                continue  # its listing arrived damaged: reported below
            files.extend(e.hash for e in odb.read_manifest(oid).entries)
        else:
            files.append(oid)
    files = list(dict.fromkeys(files))
    odb.find_corrupt(files)
    todo = [o for o in files if not odb.exists(o)]
    if on_count is not None:
        on_count(len(todo))
    transferred += _fetch(odb, remote, todo, jobs, on_done, bad)
    if bad and not keep_going:
        raise arrived_corrupted(bad)
    already = len(wanted) + len(files) - transferred
    return TransferResult(transferred - len(bad), already, [], bad)


def _fetch(
    odb: ObjectStore,
    remote: Remote,
    oids: list[str],
    jobs: int,
    on_done: Callable[[int], None] | None,
    bad: list[str],
) -> int:
    for start in range(0, len(oids), _BATCH):
        batch = oids[start : start + _BATCH]
        temps = {oid: odb.new_tmp_path() for oid in batch}

        def get(oid: str, temps: dict[str, Path] = temps) -> tuple[Path, str]:
            remote.download(oid, temps[oid])
            if on_done is not None:
                on_done(1)
            return temps[oid], oid

        try:
            downloaded = remote.run_parallel("download objects", get, batch, jobs=jobs)
        except NotFound:
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
            raise
        except BaseException:
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
            raise
        bad.extend(odb.import_verified(downloaded))
    return len(oids)
