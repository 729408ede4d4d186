"""Kubeflow Pipelines: compile a pipeline into a KFP v2 package, and submit that package.

Each stage becomes one container task that runs the script of ``_kfp_script`` in the project's
image (pull inputs, run the commands, push the outs); a task runs after the tasks of its
upstream stages, and receives the pointer files of the upstream outs it reads as parameters.
The pipeline has one parameter, ``remote_url``: empty means the default remote configured in
the image's project. KFP's own step cache is off: whether a stage needs to run is Loopline's
decision, and a cached KFP step would skip the push that downstream tasks rely on.

``kfp`` is the optional extra ``loopline[kfp]``, imported only when a function here is called.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from loopline.core.errors import InvalidInput, MissingExtra, NotFound, RemoteError
from loopline.pipeline._kfp_script import REMOTE_PARAMETER, Handover, stage_script

__all__ = ["KfpStage", "SubmittedRun", "compile_pipeline", "kfp_name", "submit_pipeline"]

PACKAGE_SUFFIXES = (".yaml", ".yml")
HEALTH_PATH = "/apis/v2beta1/healthz"


@dataclass(frozen=True)
class KfpStage:
    """One stage as a Kubeflow task sees it; paths are POSIX, relative to the project root."""

    name: str
    commands: tuple[str, ...]
    wdir: str = "."
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmittedRun:
    """A run created on a Kubeflow Pipelines server."""

    run_id: str
    url: str
    host: str
    experiment: str | None
    run_name: str | None


@dataclass(frozen=True)
class _Input:
    upstream: str
    output: str
    handover: Handover


@dataclass(frozen=True)
class _TaskPlan:
    stage: KfpStage
    component: str
    inputs: tuple[_Input, ...]
    outputs: tuple[Handover, ...]


def kfp_name(text: str, *, fallback: str = "stage") -> str:
    """``text`` as Kubeflow accepts names: lowercase letters, digits and dashes, at most 128."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:128].rstrip("-")
    return name or fallback


def compile_pipeline(
    stages: Sequence[KfpStage],
    *,
    name: str,
    image: str,
    remote_url: str | None,
    output: Path,
    description: str | None = None,
) -> Path:
    """Write the KFP v2 pipeline package (YAML) for ``stages`` to ``output``; returns ``output``."""
    from loopline.core.atomic import atomic_write_text

    if output.suffix not in PACKAGE_SUFFIXES:
        raise InvalidInput(
            f"{output} is not a .yaml file; Kubeflow reads pipeline packages as YAML",
            hint="name the output file with a .yaml suffix",
        )
    if not image.strip():
        raise InvalidInput("no container image given for the stages", hint="pass --image IMAGE")
    plan = plan_tasks(stages)
    kfp = _import_kfp()
    pipeline = _pipeline_function(plan, kfp, image=image, remote_url=remote_url or "")
    decorated = kfp.dsl.pipeline(name=kfp_name(name, fallback="pipeline"), description=description)
    with tempfile.TemporaryDirectory() as scratch:
        package = Path(scratch) / "pipeline.yaml"
        kfp.compiler.Compiler().compile(decorated(pipeline), str(package))
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, package.read_text(encoding="utf-8"))
    return output


def plan_tasks(stages: Sequence[KfpStage]) -> list[_TaskPlan]:
    """One task per stage, upstream first, with unique names and the pointers it hands over."""
    ordered = _upstream_first(stages)
    taken: set[str] = set()
    planned: dict[str, _TaskPlan] = {}
    for stage in ordered:
        component = _unique(kfp_name(stage.name), taken, separator="-")
        names = {REMOTE_PARAMETER}
        inputs = tuple(
            _Input(up, h.parameter, Handover(h.path, _unique(h.parameter, names)))
            for up in stage.upstream
            for h in _read_outs(stage, planned[up].outputs)
        )
        outputs = tuple(
            Handover(
                out, _unique("pointer_" + kfp_name(out, fallback="out").replace("-", "_"), names)
            )
            for out in stage.outs
        )
        planned[stage.name] = _TaskPlan(stage, component, inputs, outputs)
    return list(planned.values())


def _upstream_first(stages: Sequence[KfpStage]) -> list[KfpStage]:
    """The stages in their given order, except that each comes after its upstream stages."""
    by_name: dict[str, KfpStage] = {}
    for stage in stages:
        if stage.name in by_name:
            raise InvalidInput(f"stage {stage.name!r} appears twice", hint="name stages uniquely")
        by_name[stage.name] = stage
    if not by_name:
        raise InvalidInput("the pipeline has no stages", hint="define stages in dvc.yaml")
    for stage in stages:
        unknown = sorted(set(stage.upstream) - set(by_name))
        if unknown:
            raise InvalidInput(f"stage {stage.name!r} depends on unknown stage(s) {unknown}")
    ordered: list[KfpStage] = []
    placed: set[str] = set()
    while len(ordered) < len(by_name):
        ready = [s for s in stages if s.name not in placed and placed.issuperset(s.upstream)]
        if not ready:
            cycle = sorted(set(by_name) - placed)
            raise InvalidInput(
                f"the stages {cycle} depend on each other in a cycle",
                hint="make one stage's outs stop being another's deps",
            )
        ordered += ready
        placed.update(s.name for s in ready)
    return ordered


def _read_outs(stage: KfpStage, upstream_outs: Sequence[Handover]) -> list[Handover]:
    """The upstream outs that ``stage`` reads (all of them when no dep names one)."""

    def overlaps(out: str, dep: str) -> bool:
        out, dep = posixpath.normpath(out), posixpath.normpath(dep)
        return out == dep or out.startswith(dep + "/") or dep.startswith(out + "/")

    read = [h for h in upstream_outs if any(overlaps(h.path, dep) for dep in stage.deps)]
    return read or list(upstream_outs)


def _unique(name: str, taken: set[str], *, separator: str = "_") -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{separator}{number}", number + 1
    taken.add(candidate)
    return candidate


def _component_spec(task: _TaskPlan, image: str) -> dict[str, Any]:
    """A component definition in the KFP component YAML format, one container running sh."""
    stage = task.stage
    inputs = [h.handover for h in task.inputs]
    script = stage_script(
        stage.name, stage.commands, stage.wdir, inputs=inputs, outputs=task.outputs
    )
    args: list[dict[str, str]] = [{"inputValue": REMOTE_PARAMETER}]
    args += [{"inputValue": h.parameter} for h in inputs]
    args += [{"outputPath": h.parameter} for h in task.outputs]
    return {
        "name": task.component,
        "description": f"Loopline stage {stage.name}",
        "inputs": [
            {"name": n, "type": "String"}
            for n in (REMOTE_PARAMETER, *(h.parameter for h in inputs))
        ],
        "outputs": [{"name": h.parameter, "type": "String"} for h in task.outputs],
        "implementation": {
            "container": {
                "image": image,
                "command": ["sh", "-c", script, "loopline-stage"],
                "args": args,
            }
        },
    }


def _pipeline_function(
    plan: Sequence[_TaskPlan], kfp: SimpleNamespace, *, image: str, remote_url: str
) -> Callable[..., None]:
    import yaml

    components = {
        task.stage.name: kfp.components.load_component_from_text(
            yaml.safe_dump(_component_spec(task, image), sort_keys=False)
        )
        for task in plan
    }

    def pipeline(remote_url: str = remote_url) -> None:  # the name is REMOTE_PARAMETER
        tasks: dict[str, Any] = {}
        for planned in plan:
            arguments: dict[str, Any] = {REMOTE_PARAMETER: remote_url}
            for entry in planned.inputs:
                arguments[entry.handover.parameter] = tasks[entry.upstream].outputs[entry.output]
            task = components[planned.stage.name](**arguments)
            task.set_display_name(planned.stage.name)
            task.set_caching_options(False)
            for upstream in planned.stage.upstream:
                task.after(tasks[upstream])
            tasks[planned.stage.name] = task

    pipeline.__annotations__ = {REMOTE_PARAMETER: str, "return": None}
    return pipeline


def submit_pipeline(
    package: Path,
    *,
    host: str,
    experiment: str | None = None,
    run_name: str | None = None,
    arguments: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> SubmittedRun:
    """Start a run of the pipeline ``package`` on the Kubeflow Pipelines server at ``host``."""
    if not package.is_file():
        raise NotFound(
            f"pipeline package {package} does not exist",
            hint=f"compile it first with `loopline kfp compile -o {package}`",
        )
    _check_server(host, timeout)
    kfp = _import_kfp()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # kfp's note on server versions
            client = kfp.Client(host=host)
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments=dict(arguments or {}),
            run_name=run_name,
            experiment_name=experiment,
        )
    except _api_errors() as exc:
        raise RemoteError(
            f"the Kubeflow Pipelines server at {host} refused the run: {_first_line(exc)}",
            hint="check that --host is the Kubeflow Pipelines API (its /apis/v2beta1/healthz "
            "answers) and that the package was compiled by `loopline kfp compile`",
        ) from None
    run_id = str(result.run_id)
    url = f"{host.rstrip('/')}/#/runs/details/{run_id}"
    return SubmittedRun(run_id, url, host, experiment, run_name)


def _check_server(host: str, timeout: float) -> None:
    """Ask the server's health endpoint first: kfp.Client would retry it for 25 s, logging
    tracebacks, before giving up on a host that is not a Kubeflow Pipelines API."""
    parsed = urllib.parse.urlsplit(host)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput(
            f"{host!r} is not an http(s) URL of a Kubeflow Pipelines server",
            hint="pass --host like http://127.0.0.1:8080 (e.g. after "
            "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`)",
        )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as kfp.Client
    try:
        with opener.open(host.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise RemoteError(
            f"{host} does not look like a Kubeflow Pipelines API: "
            f"GET {HEALTH_PATH} answered HTTP {exc.code}",
            hint="pass the URL of the Kubeflow Pipelines API (the ml-pipeline-ui service)",
        ) from None
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RemoteError(
            f"cannot reach the Kubeflow Pipelines server at {host}: {reason}",
            hint="check the URL, and that the server or a port-forward to it is running",
        ) from None


def _api_errors() -> tuple[type[BaseException], ...]:
    import importlib

    import urllib3

    api_exception = importlib.import_module("kfp_server_api.exceptions").ApiException
    return (api_exception, urllib3.exceptions.HTTPError, OSError)


def _first_line(exc: BaseException) -> str:
    status = getattr(exc, "status", None)  # kfp_server_api.ApiException
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}".rstrip()
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _import_kfp() -> SimpleNamespace:
    try:
        import kfp
        from kfp import compiler, components, dsl
    except ImportError:
        raise MissingExtra("kfp", "kfp") from None
    return SimpleNamespace(Client=kfp.Client, compiler=compiler, components=components, dsl=dsl)
