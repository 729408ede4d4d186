"""``loopline remote``: name remote storages in the project's configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopline.core.config import read_config_file, write_config_file
from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.core.project import ProjectPaths

__all__ = [
    "RemoteEntry",
    "add_remote",
    "list_remotes",
    "modify_remote",
    "remove_remote",
    "set_default_remote",
]


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    url: str
    is_default: bool
    options: dict[str, Any]


def _file(paths: ProjectPaths, local: bool) -> Path:
    return paths.local_config_file if local else paths.config_file


def _check_name(name: str) -> None:
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            f"remote name {name!r} is not allowed",
            hint="use letters, digits, '-' and '_'",
        )


def add_remote(
    paths: ProjectPaths,
    name: str,
    url: str,
    *,
    default: bool = False,
    force: bool = False,
    local: bool = False,
) -> None:
    _check_name(name)
    config_file = _file(paths, local)
    url = _as_written(url, config_file)
    data = read_config_file(config_file)
    remotes = data.setdefault("remote", {})
    if name in remotes and not force:
        raise Conflict(
            f"remote '{name}' already exists ({remotes[name].get('url')})",
            hint="pass --force to replace it, or choose another name",
        )
    remotes[name] = {"url": url}
    if default:
        data.setdefault("core", {})["remote"] = name
    write_config_file(config_file, data)


def modify_remote(
    paths: ProjectPaths, name: str, option: str, value: str | None, *, local: bool = False
) -> None:
    """Set (or with ``value=None`` unset) an fsspec option such as ``endpoint_url``."""
    if option == "url" and value is None:
        raise InvalidInput("a remote's url cannot be unset", hint="remove the remote instead")
    config_file = _file(paths, local)
    data = read_config_file(config_file)
    known = {
        **read_config_file(paths.config_file).get("remote", {}),
        **read_config_file(paths.local_config_file).get("remote", {}),
    }
    if name not in known:
        raise NotFound(
            f"remote '{name}' is not configured", hint="add it with `loopline remote add`"
        )
    entry = data.setdefault("remote", {}).setdefault(name, {})
    if value is None:
        entry.pop(option, None)
    elif option == "url":
        entry[option] = _as_written(value, config_file)
    else:
        entry[option] = _parse_value(option, value)
    write_config_file(config_file, data)


def _as_written(url: str, config_file: Path) -> str:
    """A folder typed relative to the current folder, made relative to the config file's
    folder (where it is resolved when used, as DVC does), so the committed config works in
    every clone; absolute paths and URLs are kept as typed. A ``file://`` URL naming a
    relative folder is treated as that relative folder."""
    if not url.strip():
        raise InvalidInput(
            "a remote's url cannot be empty",
            hint="give a folder (`/mnt/shared/store`, `../store`) or a URL (`s3://bucket/path`)",
        )
    if url.startswith("file://") and not url.startswith("file:///"):
        url = url.removeprefix("file://")
        if not url:
            raise InvalidInput("a remote's url cannot be empty", hint="give a folder")
    if "://" in url:
        return url
    if url.startswith("~"):
        return str(Path(url).expanduser())
    if os.path.isabs(url):
        return url
    return os.path.relpath(os.path.abspath(url), config_file.parent).replace(os.sep, "/")


_SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def _parse_value(option: str, value: str) -> Any:
    """Booleans and numbers for ordinary options; credentials stay exactly as typed."""
    if any(word in option.lower() for word in _SECRET_WORDS):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if value.strip().isdigit() and not value.strip().startswith("0"):
        return int(value)
    return value


def remove_remote(paths: ProjectPaths, name: str) -> None:
    removed = False
    for config_file in (paths.config_file, paths.local_config_file):
        data = read_config_file(config_file)
        if name in data.get("remote", {}):
            del data["remote"][name]
            if data.get("core", {}).get("remote") == name:
                del data["core"]["remote"]
            write_config_file(config_file, data)
            removed = True
    if not removed:
        raise NotFound(f"remote '{name}' is not configured", hint="see `loopline remote list`")


def set_default_remote(paths: ProjectPaths, name: str | None) -> None:
    if name is not None and name not in {r.name for r in list_remotes(paths)}:
        raise NotFound(
            f"remote '{name}' is not configured", hint="add it with `loopline remote add`"
        )
    data = read_config_file(paths.config_file)
    core = data.setdefault("core", {})
    if name is None:
        core.pop("remote", None)
    else:
        core["remote"] = name
    write_config_file(paths.config_file, data)


def list_remotes(paths: ProjectPaths) -> list[RemoteEntry]:
    from loopline.core.config import load_settings

    settings = load_settings(paths.root)
    return [
        RemoteEntry(r.name, r.url, r.name == settings.default_remote, dict(r.options))
        for r in sorted(settings.remotes.values(), key=lambda r: r.name)
    ]
