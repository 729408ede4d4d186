"""Which model versions are served under which names, and keeping that current.

A ``models:/NAME@ALIAS`` or ``models:/NAME`` (latest, by version policy) target can change
while the server runs: a poller resolves the targets again every few seconds, loads new versions
beside the old ones and then swaps them in, so no request is dropped. A version that fails to
load leaves the old one serving; the reason is logged and shown by the ready endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, LooplineError, NotFound
from loopline.core.uris import parse_model_uri
from loopline.serving.batching import Batcher
from loopline.serving.model import ServedModel, load_served_model
from loopline.serving.settings import ModelSpec, ServeSettings

__all__ = ["ModelRepository", "ServedName"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Target:
    version: str
    uri: str


@dataclass
class ServedName:
    """Everything served under one model name."""

    spec: ModelSpec
    versions: dict[str, Batcher] = field(default_factory=dict)
    default: str | None = None
    errors: dict[str, str] = field(default_factory=dict)  # version (or "*") -> why it failed

    @property
    def ready(self) -> bool:
        return bool(self.versions)

    def sorted_versions(self) -> list[str]:
        return sorted(self.versions, key=lambda v: (len(v), v))


class ModelRepository:
    def __init__(
        self,
        settings: ServeSettings,
        make_batcher: Callable[[ServedModel], Batcher],
        on_load: Callable[[ServedModel], None] = lambda model: None,
    ) -> None:
        self.settings = settings
        self._make_batcher = make_batcher
        self._on_load = on_load
        self._names: dict[str, ServedName] = {s.name: ServedName(s) for s in settings.models}
        self._registry: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retire: Callable[[Batcher], None] = lambda batcher: batcher.close()
        self._polling = False

    # -- lookups on the hot path ------------------------------------------------------------

    def get(self, name: str, version: str | None = None) -> Batcher:
        served = self._names.get(name)
        if served is None:
            public = sorted({s.spec.served_as for s in self._names.values()})
            raise NotFound(
                f"no model named {name!r} is served here",
                hint=f"served models: {', '.join(public)}",
            )
        key = version or served.default
        batcher = served.versions.get(key) if key else None
        if batcher is None:
            shown = served.spec.served_as  # a deployment's name, never its internal variant key
            if version is None:
                raise NotFound(f"model {shown!r} has no version loaded yet")
            raise NotFound(
                f"model {shown!r} has no version {version!r} loaded",
                hint=f"loaded versions: {', '.join(served.sorted_versions()) or 'none'}",
            )
        return batcher

    def served(self, name: str) -> ServedName:
        if name not in self._names:
            raise NotFound(f"no model named {name!r} is served here")
        return self._names[name]

    def serves(self, name: str) -> bool:
        return name in self._names

    @property
    def ready(self) -> bool:
        return all(s.ready for s in self._names.values())

    # -- loading ----------------------------------------------------------------------------

    def load_all(self) -> None:
        """Load every model once; a model that cannot load at all stops the server."""
        for served in self._names.values():
            if served.ready:
                continue
            self._refresh(served, quiet=True)  # the error is raised, not also logged
            if not served.ready:
                why = "; ".join(served.errors.values()) or "no version matched"
                raise InvalidInput(
                    f"model {served.spec.name!r} ({served.spec.uri}) could not be loaded: {why}"
                )
            for why in served.errors.values():  # others loaded: say what is missing, once
                log.warning("model %s: %s", served.spec.name, why)

    def check(self) -> None:
        """Resolve every model's versions and files without loading them: the cheap checks a
        supervisor runs before starting worker processes that would each fail the same way."""
        for served in self._names.values():
            targets, _ = self._targets(served.spec)
            for target in targets:
                self._folder(target.uri)

    def add(self, spec: ModelSpec) -> None:
        """Load and serve one more model (a variant joining a deployment while serving), or
        replace the model under that name once the new one has loaded."""
        served = ServedName(spec)
        self._refresh(served, quiet=True)  # the caller reports a failure (once, not per poll)
        if not served.ready:
            why = "; ".join(served.errors.values()) or "no version matched"
            raise InvalidInput(f"model {spec.uri} could not be loaded: {why}")
        previous = self._names.get(spec.name)
        self._names = {**self._names, spec.name: served}  # one swap: readers never see half
        if previous is not None:  # a variant pointed at another model: retire the old one
            for batcher in previous.versions.values():
                self._retire(batcher)
        if spec.follows_registry and self._thread is None and self._polling:
            self._start_thread()

    def remove(self, name: str) -> None:
        """Stop serving a model; its queued requests finish first."""
        served = self._names.get(name)
        if served is None:
            return
        self._names = {k: v for k, v in self._names.items() if k != name}
        for batcher in served.versions.values():
            self._retire(batcher)

    def start_polling(self, retire: Callable[[Batcher], None]) -> None:
        """Follow moving aliases and new versions; ``retire`` closes a replaced batcher on the
        event loop once its queue is empty."""
        self._retire = retire
        self._polling = True
        if self._thread is None and any(s.spec.follows_registry for s in self._names.values()):
            self._start_thread()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._poll, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for served in self._names.values():
            for batcher in served.versions.values():
                batcher.close()

    def refresh(self) -> None:
        for served in list(self._names.values()):
            if served.spec.follows_registry:
                self._refresh(served)

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.poll_interval_s):
            try:
                self.refresh()
            except Exception:  # the poller must survive anything; the old versions keep serving
                log.exception("refreshing the served models failed")

    def _refresh(self, served: ServedName, *, quiet: bool = False) -> None:
        default: str | None
        try:
            targets, default = self._targets(served.spec)
        except LooplineError as exc:
            why = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            if not quiet and served.errors.get("*") != why:  # once, not on every poll
                log.error("cannot resolve %s: %s", served.spec.uri, why)
            served.errors["*"] = why
            return
        versions = dict(served.versions)
        errors = {}
        for target in targets:
            if target.version in versions:
                continue
            try:
                model = self._load(served.spec, target)
            except Exception as exc:  # a broken version never replaces a working one
                errors[target.version] = f"version {target.version} failed to load: {exc}"
                if not quiet and served.errors.get(target.version) != errors[target.version]:
                    # logged once per version and reason, not on every poll
                    log.error("model %s: %s", served.spec.name, errors[target.version])
                continue
            versions[target.version] = self._make_batcher(model)
            self._on_load(model)
        wanted = {t.version for t in targets}
        keep = {v: b for v, b in versions.items() if v in wanted}
        if default not in keep:  # the new default failed to load: keep serving the old one
            keep.update({v: versions[v] for v in served.versions if v in versions})
            if served.default in keep:
                default = served.default
            else:
                default = max(keep, key=int) if keep else None
        retired = [b for v, b in served.versions.items() if v not in keep]
        served.versions, served.default, served.errors = keep, default, errors
        for batcher in retired:
            self._retire(batcher)
        if retired:
            log.info("model %s now serves versions %s", served.spec.name, served.sorted_versions())

    def _load(self, spec: ModelSpec, target: _Target) -> ServedModel:
        folder = self._folder(target.uri)
        model = load_served_model(
            spec.served_as, target.version, target.uri, folder, trusted=self.settings.trusted
        )
        return replace(model, variant=spec.variant) if spec.variant else model

    def _folder(self, uri: str) -> Path:
        parsed = parse_model_uri(uri)
        if parsed.kind == "path":
            folder = Path(parsed.path or "")
            if not folder.exists():
                raise NotFound(
                    f"{folder} does not exist",
                    hint="give the path of a saved model folder, or a models:/ or runs:/ URI",
                )
            if not (folder / "MLmodel").is_file():
                raise NotFound(
                    f"{folder} is not a model folder (no MLmodel file in it)",
                    hint="give the folder that holds the MLmodel file",
                )
            return folder
        return Path(self._registry_client().resolve(uri))

    def _targets(self, spec: ModelSpec) -> tuple[list[_Target], str]:
        parsed = parse_model_uri(spec.uri)
        if parsed.kind != "registry" or parsed.name is None:
            return [_Target("1", spec.uri)], "1"
        if parsed.version is not None:
            return [_Target(str(parsed.version), spec.uri)], str(parsed.version)
        registry = self._registry_client()
        if parsed.alias:
            version = str(registry.resolve_version(spec.uri).version)
            return [_Target(version, f"models:/{parsed.name}/{version}")], version
        numbers = self._policy_versions(spec, parsed.name)
        targets = [_Target(str(v), f"models:/{parsed.name}/{v}") for v in numbers]
        return targets, str(max(numbers))

    def _policy_versions(self, spec: ModelSpec, name: str) -> list[int]:
        client = self._registry_client()
        found = client.search_model_versions(f"name = '{name}'")
        numbers = sorted(int(v.version) for v in found)
        if not numbers:
            client.get_registered_model(name)  # says so when the model does not exist at all
            raise NotFound(f"registered model {name!r} has no versions", hint="register one first")
        policy = spec.policy
        if policy.kind == "all":
            return numbers
        if policy.kind == "specific":
            unknown = [v for v in policy.versions if v not in numbers]
            if unknown:
                raise NotFound(
                    f"model {name!r} has no version {', '.join(map(str, unknown))}",
                    hint=f"its versions are {', '.join(map(str, numbers))}; "
                    "pass existing ones to --versions",
                )
            return list(policy.versions)
        return numbers[-policy.count :]

    def _registry_client(self) -> Any:
        if self._registry is None:
            from loopline.registry import RegistryClient

            self._registry = RegistryClient(self.settings.tracking_uri)
        return self._registry
