"""Settings, merged from defaults < ``.loopline/config.yaml`` < ``config.local.yaml``
< ``LOOPLINE_*`` environment variables < command-line flags.

The files hold nested YAML (``core: {remote: storage}``); every setting also has a dotted name
(``core.remote``) used by flags and by ``LOOPLINE_CORE_REMOTE``-style environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopline.core.errors import ConfigError
from loopline.core.project import ProjectPaths
from loopline.core.yaml_loader import describe, read_yaml_text

__all__ = [
    "LINK_TYPES",
    "SETTING_NAMES",
    "RemoteConfig",
    "Settings",
    "check_setting_name",
    "environment_store_url",
    "load_settings",
    "read_config_file",
    "write_config_file",
]

LINK_TYPES = ("reflink", "copy", "hardlink", "symlink")

_DEFAULTS: dict[str, Any] = {
    "core.remote": None,
    "core.jobs": max(4, 2 * (os.cpu_count() or 1)),
    "core.lock_timeout": 120.0,
    "cache.type": "reflink,copy",
    "cache.verify": False,
    "store.url": None,
}

SETTING_NAMES = tuple(sorted(_DEFAULTS))


def check_setting_name(key: str) -> None:
    """Refuse a dotted setting name Loopline does not know, suggesting the closest ones."""
    if key in _DEFAULTS:
        return
    import difflib

    close = difflib.get_close_matches(key, SETTING_NAMES, n=3, cutoff=0.5)
    if not close:
        section = key.split(".", 1)[0]
        close = [name for name in SETTING_NAMES if name.startswith(section + ".")]
    suggestion = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(
        f"unknown setting {key!r}",
        hint=f"{suggestion}known settings: {', '.join(SETTING_NAMES)} (remotes are set with "
        "`loopline remote add/modify`)",
    )


# Short environment names users reach for first; every dotted key also works as
# LOOPLINE_<SECTION>_<KEY>.
_ENV_ALIASES = {
    "LOOPLINE_STORE_URL": "store.url",
    "LOOPLINE_REMOTE": "core.remote",
    "LOOPLINE_JOBS": "core.jobs",
}


@dataclass(frozen=True)
class RemoteConfig:
    """A named remote storage: an fsspec URL plus options for its filesystem."""

    name: str
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    paths: ProjectPaths
    store_url: str
    link_types: tuple[str, ...]
    verify: bool
    jobs: int
    lock_timeout: float
    default_remote: str | None
    remotes: Mapping[str, RemoteConfig]

    def remote(self, name: str | None = None) -> RemoteConfig:
        from loopline.core.errors import NotFound

        chosen = name or self.default_remote
        if chosen is None:
            if len(self.remotes) == 1:
                return next(iter(self.remotes.values()))
            raise NotFound(
                "no remote given and no default remote is set",
                hint="pass -r NAME, or set one with `loopline remote default NAME`",
            )
        if chosen not in self.remotes:
            known = ", ".join(sorted(self.remotes)) or "none"
            raise NotFound(
                f"remote '{chosen}' is not configured (configured: {known})",
                hint="add it with `loopline remote add NAME URL`",
            )
        return self.remotes[chosen]


def _parse(text: str, path: Path) -> Any:
    from loopline.core.yaml_loader import load_yaml

    return load_yaml(
        text, str(path), hint="fix the file or delete it to use defaults", error=ConfigError
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """The nested mapping in a YAML config file; an absent file is empty."""
    from loopline.core.parsed import parse_once, parsed_cache_dir

    try:
        text = read_yaml_text(path, error=ConfigError)
    except FileNotFoundError:
        return {}
    data = parse_once(text, parsed_cache_dir(path.parent.parent), lambda t: _parse(t, path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of sections, found {describe(data)}",
            hint="see docs/architecture.md for the layout of config.yaml",
        )
    return data


def write_config_file(path: Path, data: Mapping[str, Any]) -> None:
    import yaml

    from loopline.core.atomic import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(dict(data), sort_keys=True))


def _flatten(data: Mapping[str, Any], source: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, values in data.items():
        if section == "remote":
            continue
        if not isinstance(values, dict):
            raise ConfigError(
                f"section '{section}' in {source} must be a mapping, found {values!r}",
                hint=f"write it as '{section}:' followed by indented 'key: value' lines",
            )
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def _remotes(data: Mapping[str, Any], source: Path) -> dict[str, dict[str, Any]]:
    section = data.get("remote") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"section 'remote' in {source} must map names to settings")
    remotes: dict[str, dict[str, Any]] = {}
    for name, values in section.items():
        if not isinstance(values, dict):
            raise ConfigError(f"remote '{name}' in {source} must be a mapping with a 'url'")
        remotes[str(name)] = dict(values)
    return remotes


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in _DEFAULTS:
        env_name = "LOOPLINE_" + key.replace(".", "_").upper()
        if env_name in environ:
            found[key] = environ[env_name]
    for env_name, key in _ENV_ALIASES.items():
        if env_name in environ:
            found[key] = environ[env_name]
    return found


def environment_store_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The metadata store URL set in the environment (``LOOPLINE_STORE_URL``), if any.

    Environment settings apply everywhere, inside a project or not; this is how a folder that is
    not a project finds a shared store.
    """
    value = _from_environment(os.environ if environ is None else environ).get("store.url")
    return str(value) if value else None


def load_settings(
    root: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge every configuration layer for the project at ``root``."""
    paths = ProjectPaths(root)
    merged = dict(_DEFAULTS)
    remote_layers: dict[str, dict[str, Any]] = {}
    for source in (paths.config_file, paths.local_config_file):
        data = read_config_file(source)
        merged.update(_flatten(data, source))
        for name, values in _remotes(data, source).items():
            remote_layers.setdefault(name, {}).update(values)
    merged.update(_from_environment(os.environ if environ is None else environ))
    for key in overrides or {}:
        check_setting_name(key)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return _build(paths, merged, remote_layers)


def _build(
    paths: ProjectPaths, merged: Mapping[str, Any], remote_layers: dict[str, dict[str, Any]]
) -> Settings:
    link_types = tuple(t.strip() for t in str(merged["cache.type"]).split(",") if t.strip())
    unknown = [t for t in link_types if t not in LINK_TYPES]
    if unknown or not link_types:
        raise ConfigError(
            f"cache.type {merged['cache.type']!r} names unknown link types {unknown}",
            hint=f"use a comma-separated list of {', '.join(LINK_TYPES)}",
        )
    remotes = {}
    for name, values in remote_layers.items():
        url = values.pop("url", None)
        if not url or not str(url).strip():
            raise ConfigError(
                f"remote '{name}' has no url",
                hint=f"set it with `loopline remote add {name} URL --force`",
            )
        remotes[name] = RemoteConfig(name=name, url=_resolve_url(str(url), paths), options=values)
    store_url = merged["store.url"] or f"sqlite:///{paths.store_db}"
    return Settings(
        paths=paths,
        store_url=str(store_url),
        link_types=link_types,
        verify=_as_bool(merged["cache.verify"], "cache.verify"),
        jobs=_as_number(merged["core.jobs"], "core.jobs", int),
        lock_timeout=_as_number(merged["core.lock_timeout"], "core.lock_timeout", float),
        default_remote=merged["core.remote"] or None,
        remotes=remotes,
    )


def _resolve_url(url: str, paths: ProjectPaths) -> str:
    """A relative folder is relative to the config files' folder (``.loopline/``); so is a
    ``file://`` URL naming a relative folder (``file://../shared``), never the current one."""
    if url.startswith("file://") and not url.startswith("file:///"):
        url = url.removeprefix("file://")
    if "://" in url or os.path.isabs(url):
        return url
    return os.path.normpath(os.path.join(paths.config_file.parent, os.path.expanduser(url)))


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}")


def _as_number(value: Any, key: str, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key} must be positive, got {value!r}")
    return number
