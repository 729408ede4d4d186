"""Remote object storage through fsspec: a local folder, S3 (s3fs), HTTP (read-only), ...

A remote uses the same ``<2 hex>/<rest>`` layout as the local cache, so any tool can mirror it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loopline.core.config import RemoteConfig
from loopline.core.errors import MissingExtra, NotFound, RemoteError
from loopline.core.hashing import is_hash
from loopline.objects.manifest import DIR_SUFFIX

__all__ = ["Remote"]

_EXTRAS = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gs"),
    "az": ("adlfs", "azure"),
}
_EXISTS_ONE_BY_ONE = 256


class Remote:
    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self.name = config.name
        self.url = config.url
        self._fs: Any = None
        self._root = ""

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, self._root = self._open()
        return self._fs

    @property
    def root(self) -> str:
        _ = self.fs
        return self._root

    def _open(self) -> tuple[Any, str]:
        import fsspec.core

        protocol = self.url.split("://", 1)[0] if "://" in self.url else "file"
        options = dict(self.config.options)
        if protocol in ("s3", "s3a"):
            options = _s3_options(options)
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as exc:
            module, extra = _EXTRAS.get(protocol, (str(exc.name), protocol))
            raise MissingExtra(module, extra) from None
        except ValueError as exc:
            raise RemoteError(
                f"remote '{self.name}' has an unusable URL {self.url!r}: {exc}",
                hint=f"fix it with `loopline remote add {self.name} URL --force`",
            ) from None
        return fs, str(root).rstrip("/")

    def object_path(self, oid: str) -> str:
        return f"{self.root}/{oid[:2]}/{oid[2:]}"

    @property
    def is_local(self) -> bool:
        protocol = self.fs.protocol
        protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
        return "file" in protocols or "local" in protocols

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn the filesystem's exceptions into errors that name this remote and the fix."""
        try:
            yield
        except (NotFound, RemoteError, MissingExtra):
            raise
        except Exception as exc:
            if not _is_refusal(exc):
                raise _unreachable(self, action, exc) from None
            raise RemoteError(
                f"remote '{self.name}' ({self.url}) refused to {action}: it is read-only "
                f"or the credentials lack permission ({type(exc).__name__}: {exc})",
                hint="check the remote's permissions and credentials, or push to another remote",
            ) from None

    # -- queries --------------------------------------------------------------------------
    def existing(self, oids: Iterable[str], *, jobs: int) -> set[str]:
        """The subset of ``oids`` the remote already holds."""
        wanted = set(oids)
        if not wanted:
            return set()
        with self.errors("list objects"):
            if len(wanted) > _EXISTS_ONE_BY_ONE:
                listed = self._list_all()
                if listed is not None:
                    return wanted & listed
            return self._exists_each(wanted, jobs)

    def _list_all(self) -> set[str] | None:
        try:
            paths = self.fs.find(self.root)
        except (NotImplementedError, FileNotFoundError):
            return None
        found = set()
        for path in paths:
            parts = str(path).rsplit("/", 2)
            if len(parts) == 3 and len(parts[1]) == 2:
                oid = parts[1] + parts[2]
                if is_hash(oid.removesuffix(DIR_SUFFIX)):
                    found.add(oid)
        return found

    def _exists_each(self, wanted: set[str], jobs: int) -> set[str]:
        from concurrent.futures import ThreadPoolExecutor

        ordered = sorted(wanted)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            flags = list(pool.map(lambda oid: bool(self.fs.exists(self.object_path(oid))), ordered))
        return {oid for oid, present in zip(ordered, flags, strict=True) if present}

    # -- transfers --------------------------------------------------------------------------
    @property
    def is_read_only(self) -> bool:
        """HTTP(S) remotes serve files but take no uploads."""
        return self.url.split("://", 1)[0] in ("http", "https")

    def refuse_if_read_only(self) -> None:
        if self.is_read_only:
            raise RemoteError(
                f"remote '{self.name}' ({self.url}) is read-only: HTTP remotes can only be "
                "pulled from",
                hint="push to a folder or S3 remote, and serve that over HTTP for readers",
            )

    def upload(self, local: Path, oid: str) -> None:
        target = self.object_path(oid)
        if self.is_local:
            # A folder remote gets the same temp + rename discipline as the local cache.
            tmp = f"{self.root}/tmp/{os.urandom(16).hex()}"
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(local), tmp)
            self.fs.mv(tmp, target)
        else:
            self.fs.put_file(str(local), target)  # object stores publish a PUT atomically

    def download(self, oid: str, local: Path) -> None:
        try:
            self.fs.get_file(self.object_path(oid), str(local))
        except FileNotFoundError:
            raise NotFound(
                f"object {oid} is not on remote '{self.name}' ({self.url})",
                hint="push it from the machine that added the data: `loopline push`",
            ) from None

    def run_parallel(
        self,
        action: str,
        work: Callable[[str], Any],
        oids: list[str],
        *,
        jobs: int,
    ) -> list[Any]:
        from concurrent.futures import ThreadPoolExecutor

        with self.errors(action), ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(work, oids))


def _s3_options(options: dict[str, Any]) -> dict[str, Any]:
    """Short timeouts and few retries, so an unreachable endpoint fails in seconds."""
    options = dict(options)
    config = dict(options.pop("config_kwargs", {}) or {})
    config.setdefault("connect_timeout", 5)
    config.setdefault("read_timeout", 60)
    config.setdefault("retries", {"max_attempts": 2, "mode": "standard"})
    options["config_kwargs"] = config
    for short, long in (("access_key_id", "key"), ("secret_access_key", "secret")):
        if short in options:
            options[long] = options.pop(short)
    return options


def _is_refusal(exc: Exception) -> bool:
    """A permission problem rather than a connection problem."""
    if isinstance(exc, PermissionError | NotImplementedError):
        return True
    status = getattr(exc, "status", None)  # aiohttp.ClientResponseError from HTTP remotes
    return status in (401, 403, 405, 501)


def _unreachable(remote: Remote, action: str, exc: Exception) -> RemoteError:
    return RemoteError(
        f"could not {action} on remote '{remote.name}' ({remote.url}): {type(exc).__name__}: {exc}",
        hint="check that the remote is reachable and its URL and credentials are right "
        "(`loopline remote list`)",
    )
