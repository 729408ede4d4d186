"""DVC remotes (``.dvc/config`` and ``.dvc/config.local``) as Loopline remotes.

DVC writes its config with configobj: ``[core]`` and sections named ``['remote "NAME"']``.
A relative folder URL is relative to ``.dvc/``; Loopline resolves relative URLs against
``.loopline/``, which sits at the same depth, so the URL is kept exactly as written. Options
that name the same thing under another key are renamed; ones Loopline has no use for are
reported, not guessed. Remotes Loopline already knows are left alone.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopline.core.config import read_config_file, write_config_file
from loopline.core.project import ProjectPaths

__all__ = ["DvcConfig", "RemoteOutcome", "adopt_remotes", "read_dvc_config"]

_RENAMED = {"endpointurl": "endpoint_url", "session_token": "token"}
_KEPT = {"access_key_id", "secret_access_key", "profile", "endpoint_url", "token"}


@dataclass
class DvcConfig:
    """What import needs from DVC's config files (local settings override shared ones)."""

    default_remote: str | None = None
    cache_dir: str | None = None
    remotes: dict[str, dict[str, str]] = field(default_factory=dict)
    local_remotes: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteOutcome:
    name: str
    status: str  # "converted", "unchanged", "skipped"
    detail: str


def read_dvc_config(dvc_dir: Path) -> DvcConfig:
    found = DvcConfig()
    for name, remotes in (("config", found.remotes), ("config.local", found.local_remotes)):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string((dvc_dir / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except configparser.Error:
            continue  # reported by the caller as "no remotes read"
        for section in parser.sections():
            values = dict(parser.items(section))
            title = section.strip().strip("'\"")
            if title.startswith("remote ") or title.startswith('remote "'):
                remote = title.split(" ", 1)[1].strip().strip('"')
                remotes.setdefault(remote, {}).update(values)
            elif title == "core" and values.get("remote"):
                found.default_remote = values["remote"]
            elif title == "cache" and values.get("dir"):
                found.cache_dir = values["dir"]
    return found


def adopt_remotes(paths: ProjectPaths, dvc: DvcConfig) -> list[RemoteOutcome]:
    outcomes: list[RemoteOutcome] = []
    shared = read_config_file(paths.config_file)
    local = read_config_file(paths.local_config_file)
    known = set(shared.get("remote") or {}) | set(local.get("remote") or {})
    changed_shared = changed_local = False
    for name in sorted(set(dvc.remotes) | set(dvc.local_remotes)):
        if name in known:
            outcomes.append(RemoteOutcome(name, "unchanged", "Loopline already has this remote"))
            continue
        values = {**dvc.remotes.get(name, {}), **dvc.local_remotes.get(name, {})}
        if not name.replace("-", "").replace("_", "").isalnum():
            outcomes.append(
                RemoteOutcome(name, "skipped", "Loopline remote names use letters, digits, - and _")
            )
            continue
        if not values.get("url"):
            outcomes.append(RemoteOutcome(name, "skipped", "it has no url in DVC's config"))
            continue
        in_shared, dropped = _options(dvc.remotes.get(name, {}))
        in_local, dropped_local = _options(dvc.local_remotes.get(name, {}))
        if in_shared:
            shared.setdefault("remote", {})[name] = in_shared
            changed_shared = True
        if in_local:  # credentials stay out of the committed config, as in DVC
            local.setdefault("remote", {})[name] = in_local
            changed_local = True
        dropped += dropped_local
        detail = f"url {values['url']}; holds DVC's md5 objects, run `loopline push` to fill it"
        if dropped:
            detail += f"; options not converted: {', '.join(sorted(dropped))}"
        outcomes.append(RemoteOutcome(name, "converted", detail))
    core = shared.setdefault("core", {})
    if (
        dvc.default_remote
        and not core.get("remote")
        and not (local.get("core") or {}).get("remote")
    ):
        core["remote"] = dvc.default_remote
        changed_shared = True
    if not core:
        shared.pop("core")
    if changed_shared:
        write_config_file(paths.config_file, shared)
    if changed_local:
        write_config_file(paths.local_config_file, local)
    return outcomes


def _options(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    options: dict[str, Any] = {}
    dropped = []
    for key, value in values.items():
        if key == "url":
            options["url"] = value
            continue
        key_here = _RENAMED.get(key, key)
        if key_here in _KEPT:
            options[key_here] = value
        else:
            dropped.append(key)
    return options, dropped
