"""``import_dvc``: adopt a DVC repository in place, reading DVC's files and writing Loopline's.

Order: remotes, then ``.dvc`` files (pointers), then ``dvc.lock`` (the lock), all under the
project lock. Each written file is written atomically and only when Loopline has no file of
its own there yet, so rerunning is safe and changes nothing that is already converted; an
existing Loopline pointer or lock entry is never replaced (it may be newer than DVC's).
"""

from __future__ import annotations

import os
from pathlib import Path

from loopline.core.atomic import atomic_write_text
from loopline.core.errors import LooplineError, NotFound
from loopline.data.gitignore import ignore_in_git
from loopline.data.pointer import Pointer, pointer_path_for, read_pointer
from loopline.data.workspace import Workspace
from loopline.dvc_import._dvc_files import (
    DvcOut,
    find_dvc_files,
    read_dvc_file,
)
from loopline.dvc_import._objects import Converted, Md5Objects, is_executable
from loopline.dvc_import._remotes import adopt_remotes, read_dvc_config
from loopline.dvc_import._report import ImportReport

__all__ = ["import_dvc"]

_RESERVED = frozenset({".git", ".dvc", ".loopline"})
_AGAIN = "run `dvc pull` (or `dvc fetch`) and import again"


def import_dvc(root: Path) -> ImportReport:
    """Turn the DVC repository at ``root`` into a Loopline project (made if missing)."""
    root = Path(os.path.abspath(root))
    dvc_dir = root / ".dvc"
    if not dvc_dir.is_dir():
        raise NotFound(
            f"{root} is not a DVC repository (it has no .dvc folder)",
            hint="run `loopline import-dvc` in the folder that holds .dvc/",
        )
    report = ImportReport(str(root))
    if not (root / ".loopline" / "config.yaml").is_file():
        from loopline.data.init import init_project

        init_project(root)
        report.notes.append("made it a Loopline project (.loopline/)")
    config = read_dvc_config(dvc_dir)
    cache = dvc_dir / "cache"
    if config.cache_dir:
        cache = Path(os.path.normpath(dvc_dir / os.path.expanduser(config.cache_dir)))
    with Workspace(root) as ws, ws.lock():
        for outcome in adopt_remotes(ws.paths, config):
            report.add("remote", outcome.name, outcome.status, outcome.detail)
        objects = Md5Objects(cache, ws.odb, root, ws.paths.tmp_dir / "dvc-md5.json")
        for rel in find_dvc_files(root):
            if rel.endswith("dvc.yaml"):
                report.add("file", rel, "skipped", "Loopline reads only the dvc.yaml at the root")
                continue
            _adopt_dvc_file(ws, objects, rel, report)
        if (root / "dvc.lock").is_file():
            from loopline.dvc_import._lock import adopt_lock

            adopt_lock(ws, objects, report)
        objects.save()
    if (cache / "runs").is_dir():
        report.notes.append("DVC's run cache is not converted; Loopline builds its own")
    return report


def _adopt_dvc_file(ws: Workspace, objects: Md5Objects, rel: str, report: ImportReport) -> None:
    outs, why = read_dvc_file(ws.root, rel)
    if why:
        report.add("data", rel, "skipped", why)
    for out in outs:
        name = f"{rel} ({out.path})" if len(outs) > 1 else rel
        status, detail = _adopt_out(ws, objects, out)
        report.add("data", name, status, detail)


def _adopt_out(ws: Workspace, objects: Md5Objects, out: DvcOut) -> tuple[str, str]:
    if out.path.startswith("../") or out.path == ".." or os.path.isabs(out.path):
        return "skipped", f"{out.path} is outside the project"
    if out.path.split("/")[0] in _RESERVED or ".git" in out.path.split("/"):
        return "skipped", f"{out.path} is inside a tool's own folder"
    folder = os.path.dirname(out.path)
    real_root = os.path.realpath(ws.root)
    if os.path.realpath(ws.root / folder) != os.path.normpath(os.path.join(real_root, folder)):
        return "skipped", f"{out.path} is reached through a symlinked folder"
    if not out.cache:
        return "skipped", "cache: false (DVC leaves it to git)"
    if out.md5 is None:
        return "skipped", "DVC recorded no hash for it (run `dvc commit`)"
    pointer_file = pointer_path_for(out.path)
    existing: Pointer | None = None
    if (ws.root / pointer_file).exists():
        try:
            existing = read_pointer(ws.root, pointer_file)
        except LooplineError as exc:
            return "skipped", f"{pointer_file} exists but is damaged: {exc.message}"
    converted = objects.convert(out.md5, out.legacy, ws.root / out.path)
    if converted is None:
        return "skipped", f"{objects.problem}; {_AGAIN}"
    pointer = _pointer(out, converted, is_executable(ws.root / out.path))
    if existing is not None:
        if existing.oid == pointer.oid:
            return "unchanged", f"{pointer_file} already tracks it"
        return "skipped", f"{pointer_file} already tracks other content; kept it"
    atomic_write_text(ws.root / pointer.file, pointer.to_yaml())
    ignore_in_git(ws.root, out.path)
    return "converted", f"-> {pointer.file}"


def _pointer(out: DvcOut, converted: Converted, exec_bit: bool) -> Pointer:
    return Pointer(
        pointer_path_for(out.path),
        out.path,
        converted.oid,
        converted.size,
        converted.nfiles,
        (out.isexec or exec_bit) and converted.nfiles is None,
    )
