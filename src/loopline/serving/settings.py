"""What ``loopline serve`` was asked to do: the models, their version policies, and the knobs of
the hot path. Frozen values, passed to worker processes as one JSON environment variable."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from loopline.core.errors import InvalidInput
from loopline.core.uris import parse_model_uri

__all__ = ["ModelSpec", "ServeSettings", "VersionPolicy", "parse_model_argument"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_POLICY = re.compile(r"^(?:latest(?::(?P<n>\d+))?|all|(?P<list>\d+(?:,\d+)*))$")
ENV_VAR = "LOOPLINE_SERVE_SETTINGS"


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions of a registered model to serve, as TF-Serving's model_version_policy:
    the ``latest`` N, ``all``, or a ``specific`` list."""

    kind: str = "latest"  # latest | all | specific
    count: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> VersionPolicy:
        match = _POLICY.match(text.strip())
        if not match:
            raise InvalidInput(
                f"version policy {text!r} is not understood",
                hint="use latest, latest:N, all, or a list of versions such as 1,3",
            )
        if match["list"]:
            return cls("specific", 0, tuple(sorted({int(v) for v in match["list"].split(",")})))
        if text.strip() == "all":
            return cls("all", 0)
        count = int(match["n"] or 1)
        if count < 1:
            raise InvalidInput("latest:N needs N of at least 1")
        return cls("latest", count)

    def __str__(self) -> str:
        if self.kind == "specific":
            return ",".join(map(str, self.versions))
        return "all" if self.kind == "all" else f"latest:{self.count}"


@dataclass(frozen=True)
class ModelSpec:
    """One served model: the name clients use, the URI it comes from, and its version policy
    (used only for ``models:/NAME`` without a version or alias)."""

    name: str
    uri: str
    policy: VersionPolicy = field(default_factory=VersionPolicy)
    # A variant of a deployment is kept under its own name (``DEPLOYMENT/VARIANT``) but answers,
    # and is measured, as the deployment.
    variant: str = ""
    public_name: str = ""

    @property
    def served_as(self) -> str:
        return self.public_name or self.name

    @property
    def follows_registry(self) -> bool:
        """True when the versions served can change while the server runs (alias or latest)."""
        parsed = parse_model_uri(self.uri)
        return parsed.kind == "registry" and parsed.version is None


@dataclass(frozen=True)
class ServeSettings:
    models: tuple[ModelSpec, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_batch_size: int = 256
    max_batch_delay_ms: float = 2.0
    max_queue_rows: int = 4096
    max_body_bytes: int = 16 * 1024 * 1024
    log_sample_rate: float = 0.0
    log_dir: str | None = None
    tracking_uri: str | None = None
    poll_interval_s: float = 5.0
    trusted: bool = False
    deployment: str | None = None  # serve this deployment's variants, routed by its policy

    def __post_init__(self) -> None:
        if not self.models:
            raise InvalidInput("no model to serve", hint="pass at least one MODEL_URI")
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(
                f"two models are served under the name {duplicates[0]!r}",
                hint="give each a different name with NAME=URI",
            )
        if not 0.0 <= self.log_sample_rate <= 1.0:
            raise InvalidInput(f"--log-sample-rate must be within 0..1, got {self.log_sample_rate}")
        if self.max_batch_size < 1 or self.max_queue_rows < self.max_batch_size:
            raise InvalidInput("the queue must hold at least one full batch")

    def with_changes(self, **changes: object) -> ServeSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        raw = json.loads(text)
        models = tuple(
            ModelSpec(
                m["name"],
                m["uri"],
                VersionPolicy(
                    m["policy"]["kind"], m["policy"]["count"], tuple(m["policy"]["versions"])
                ),
                m.get("variant", ""),
                m.get("public_name", ""),
            )
            for m in raw.pop("models")
        )
        return cls(models=models, **raw)


def parse_model_argument(text: str, name: str | None, policy: VersionPolicy) -> ModelSpec:
    """``NAME=URI`` or ``URI`` (the name then comes from ``name`` or the URI itself)."""
    uri = text
    head, sep, tail = text.partition("=")
    if sep and _NAME.match(head) and ":" not in head:
        name, uri = head, tail
    parsed = parse_model_uri(uri)
    if name is None:
        if parsed.kind == "registry" and parsed.name:
            name = parsed.name
        elif parsed.kind == "run":
            name = Path(parsed.artifact_path or "model").name
        else:
            name = Path(parsed.path or "model").resolve().name
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a usable model name",
            hint="use letters, digits, '.', '_' or '-', e.g. churn=" + uri,
        )
    return ModelSpec(name, uri, policy)
