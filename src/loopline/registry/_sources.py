"""What a model version may point at, checked the way MLflow's tracking server checks it.

A version's ``source`` is read later by ``serve``, ``load_model`` and the download endpoint, so a
source the registry accepts must be one that belongs to the store:

- a local path (or ``file://``) only inside the artifact folder of the run given as ``run_id``
  (or of a model that run logged), of the logged model given as ``model_id``, or, with
  neither, inside (not at) the store's artifact root — never ``/etc`` or a folder elsewhere
  on the server's disk. The path is checked exactly as it will be opened: no ``..``, no
  query or fragment in a ``file:`` URI, links resolved; it is stored as that absolute path;
- ``runs:/<id>/path`` only with a ``run_id`` that is that run (filled in when missing);
- ``models:/m-<id>`` only for an existing logged model (its ``model_id`` and source run are
  filled in when missing); ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS`` stand for that
  version's own source, run and logged model;
- any other URI (``mlflow-artifacts:``, ``s3://``, ...) without ``..`` or NUL in its path.

Schemes are case-insensitive (``FILE:``, ``Runs:``): they are lowercased before any check.

MLflow answers a refused source with ``INVALID_PARAMETER_VALUE``; so does Loopline
(:class:`~loopline.core.errors.InvalidInput`).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopline.core.errors import InvalidInput, NotFound
from loopline.store import Store
from loopline.tracking.artifacts import PROXY_SCHEME, proxied_to

if TYPE_CHECKING:
    from loopline.tracking.logged_models import LoggedModel

__all__ = ["CheckedSource", "check_source", "local_source_path"]

_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]{32}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class CheckedSource:
    source: str
    run_id: str | None
    model_id: str | None


VersionLookup = Callable[[str], tuple[str, str | None, str | None]]


def check_source(
    store: Store,
    artifact_root: str,
    source: str,
    run_id: str | None,
    model_id: str | None,
    registered_version: VersionLookup,
) -> CheckedSource:
    """``source`` with its run and logged model, or :class:`InvalidInput` saying why not.

    ``registered_version`` maps a ``models:/NAME/VERSION`` URI to that version's
    ``(source, run_id, model_id)``."""
    if not source or not source.strip():
        raise InvalidInput("a model version needs a source (where its files are)")
    run_id, model_id = run_id or None, model_id or None
    source = _lower_scheme(source)
    if _is_local(source):
        return _local(store, artifact_root, source, run_id, model_id)
    _refuse_relative_parts(source)
    scheme = source.split(":", 1)[0].lower()
    if scheme == "runs":
        return _runs(store, source, run_id, model_id)
    if scheme == "models":
        return _models(store, source, run_id, model_id, registered_version)
    if run_id:
        _run_location(store, run_id, source)  # a version's run must exist for its lineage
    return CheckedSource(source, run_id, model_id)


def _lower_scheme(source: str) -> str:
    """``FILE:///x`` → ``file:///x``: a URI's scheme is case-insensitive (RFC 3986)."""
    match = _SCHEME.match(source)
    if match is None or _DRIVE.match(source):
        return source
    return match.group(0).lower() + source[match.end() :]


def _is_local(source: str) -> bool:
    if source.startswith("file:"):
        return True
    return not _SCHEME.match(source) or bool(_DRIVE.match(source))


def _local_path(source: str) -> str:
    """The path a local source names, read the one way the loader reads it: a ``file:`` URI
    with a query or fragment, a host, ``..`` or a NUL is refused rather than guessed at."""
    path = source
    if source.startswith("file:"):
        rest = source[len("file:") :]
        if "?" in rest or "#" in rest:
            raise InvalidInput(
                f"model version source {source!r} is a file: URI with a query or fragment "
                "('?' or '#')",
                hint="give the folder as a plain absolute path",
            )
        if rest.startswith("//"):
            host, _, rest = rest[2:].partition("/")
            if host not in ("", "localhost"):
                raise InvalidInput(
                    f"model version source {source!r} names another host ({host})",
                    hint="give a folder on the tracking server's disk, or a runs:/ URI",
                )
            rest = "/" + rest
        path = urllib.parse.unquote(rest)
    if "\0" in path or ".." in path.replace("\\", "/").split("/"):
        raise InvalidInput(
            f"model version source {source!r} has a relative part ('..') or a NUL",
            hint="give an absolute location without '..'",
        )
    return path


def local_source_path(source: str) -> str:
    """The real folder a local version source names, read exactly as :func:`check_source`
    reads it (a source stored before that check is refused the same way)."""
    return os.path.realpath(_local_path(_lower_scheme(source)))


def _local(
    store: Store, artifact_root: str, source: str, run_id: str | None, model_id: str | None
) -> CheckedSource:
    path = os.path.realpath(_local_path(source))
    allowed: list[tuple[str, bool]] = []  # (location, may the source be the folder itself)
    if run_id:
        allowed.append((_run_location(store, run_id, source), True))
        allowed += [(m, True) for m in _run_models(store, run_id)]
    if model_id:
        allowed.append((_logged_model(store, model_id, source).artifact_location, True))
    if artifact_root and not run_id and not model_id:
        allowed.append((artifact_root, False))
    for location, itself in allowed:
        folder = _local_folder(location, artifact_root)
        if folder is not None and ((itself and path == folder) or _inside(path, folder)):
            return CheckedSource(path, run_id, model_id)
    where = (
        f"outside the artifacts of run {run_id} and of the models it logged"
        if run_id
        else f"outside the artifacts of logged model {model_id}"
        if model_id
        else "outside the artifacts kept in the store's artifact root (or is the root itself)"
    )
    raise InvalidInput(
        f"model version source {source!r} is a local path {where}",
        hint="register the model a run logged (runs:/<run_id>/<path> or models:/<model_id>) "
        "instead of a folder on disk",
    )


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _run_models(store: Store, run_id: str) -> list[str]:
    """Artifact locations of the models ``run_id`` logged (they live beside the run)."""
    from loopline.tracking._sql_store import SqlTrackingStore
    from loopline.tracking.logged_models import SqlLoggedModels

    experiment = SqlTrackingStore(store, "").get_run(run_id).info.experiment_id
    found = SqlLoggedModels(store, "").search([experiment], 10_000, f"source_run_id = '{run_id}'")
    return [m.artifact_location for m in found]


def _local_folder(location: str, artifact_root: str) -> str | None:
    """The real local folder behind an artifact location, or None if it is not on this disk."""
    if location.startswith(PROXY_SCHEME):
        if not artifact_root:
            return None
        location = proxied_to(location, artifact_root)
    if not _is_local(location):
        return None
    return os.path.realpath(_local_path(location))


def _refuse_relative_parts(source: str) -> None:
    text = source
    while (unquoted := urllib.parse.unquote(text)) != text:
        text = unquoted
    path = urllib.parse.urlparse(text).path
    if "\0" in text or ".." in path.split("/") or ".." in text.split("/"):
        raise InvalidInput(
            f"model version source {source!r} has a relative part ('..') or a NUL",
            hint="give an absolute location without '..'",
        )


def _runs(store: Store, source: str, run_id: str | None, model_id: str | None) -> CheckedSource:
    parsed = urllib.parse.urlparse(source)
    source_run = parsed.path.lstrip("/").split("/", 1)[0]
    if parsed.netloc or not source_run:
        raise InvalidInput(
            f"model version source {source!r} is not a runs:/<run_id>/<path> URI",
            hint="write it as runs:/<run_id>/model",
        )
    if run_id and run_id != source_run:
        raise InvalidInput(
            f"model version source {source!r} belongs to run {source_run}, not to run {run_id}",
            hint="give the run_id of the run that logged the model, or none",
        )
    _run_location(store, source_run, source)
    return CheckedSource(source, source_run, model_id)


def _models(
    store: Store,
    source: str,
    run_id: str | None,
    model_id: str | None,
    registered_version: VersionLookup,
) -> CheckedSource:
    parsed = urllib.parse.urlparse(source)
    target = parsed.path.strip("/")
    if parsed.netloc or not target:
        raise InvalidInput(
            f"model version source {source!r} is not a models:/ URI of this registry",
            hint="write it as models:/<model_id>, models:/NAME/VERSION or models:/NAME@ALIAS",
        )
    if _LOGGED_MODEL.match(target):
        if model_id and model_id != target:
            raise InvalidInput(
                f"model version source {source!r} is logged model {target}, not {model_id}",
                hint="give the model_id of the source, or none",
            )
        logged = _logged_model(store, target, source)
        return CheckedSource(source, run_id or logged.source_run_id, target)
    try:
        under, under_run, under_model = registered_version(source)
    except NotFound as exc:
        raise InvalidInput(
            f"model version source {source!r} names a version that does not exist: {exc.message}",
            hint="see `loopline models show NAME` for its versions",
        ) from None
    if (run_id and run_id != (under_run or "")) or (model_id and model_id != (under_model or "")):
        raise InvalidInput(
            f"the run_id and model_id given do not match those of {source}",
            hint="leave them out: they are taken from the version",
        )
    return CheckedSource(under, under_run, under_model)


def _run_location(store: Store, run_id: str, source: str) -> str:
    from loopline.tracking._sql_store import SqlTrackingStore

    try:
        return SqlTrackingStore(store, "").artifact_uri(run_id)
    except NotFound:
        raise InvalidInput(
            f"model version source {source!r} names run {run_id}, which does not exist",
            hint="list runs with `loopline runs list`",
        ) from None


def _logged_model(store: Store, model_id: str, source: str) -> LoggedModel:
    from loopline.tracking.logged_models import SqlLoggedModels

    try:
        return SqlLoggedModels(store, "").get(model_id)
    except NotFound:
        raise InvalidInput(
            f"model version source {source!r} names logged model {model_id}, which does not exist",
            hint="register a model that was logged to this store",
        ) from None
