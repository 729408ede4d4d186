"""From the parsed pipeline file to resolved stages: schema checks, ``foreach``/``matrix``
expansion and ``${}`` rendering. Every error names the stage and the field."""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.core.project import DOT_DIR
from loopline.pipeline._context import DEFAULT_PARAMS, build_context, merge_into
from loopline.pipeline._model import Out, ParamDep, Stage
from loopline.pipeline._paths import path_problem
from loopline.pipeline._template import render, to_text

__all__ = ["ResolvedFile", "resolve_pipeline_file"]

_TOP_KEYS = {"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"}
_STAGE_KEYS = {
    "cmd",
    "wdir",
    "deps",
    "outs",
    "params",
    "metrics",
    "plots",
    "frozen",
    "always_changed",
    "desc",
    "meta",
    "vars",
}
_GENERATOR_KEYS = {"foreach", "do", "matrix"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ResolvedFile:
    """The stages and top-level lists of one pipeline file."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self.metrics: tuple[str, ...] = ()
        self.params: tuple[str, ...] = ()
        self.vars_files: tuple[str, ...] = ()


def resolve_pipeline_file(root: Path, name: str, doc: Any) -> ResolvedFile:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InvalidInput(f"{name} must hold a mapping with 'stages:'", hint="see dvc.yaml docs")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise InvalidInput(
            f"{name}: unknown top-level key '{unknown[0]}'",
            hint=f"allowed keys: {', '.join(sorted(_TOP_KEYS))}",
        )
    context, files = build_context(root, ".", doc.get("vars"), name)
    if DEFAULT_PARAMS not in files and (root / DEFAULT_PARAMS).is_file():
        from loopline.pipeline._files import read_data
        from loopline.pipeline._params import not_a_mapping

        defaults = read_data(root, DEFAULT_PARAMS, what="params file") or {}
        if not isinstance(defaults, dict):
            raise not_a_mapping(DEFAULT_PARAMS, defaults)
        merge_into(context, defaults, DEFAULT_PARAMS)
        files.insert(0, DEFAULT_PARAMS)
    result = ResolvedFile()
    result.vars_files = tuple(files)
    result.metrics = tuple(_path_list(doc.get("metrics"), ".", f"{name}: metrics"))
    result.params = tuple(_path_list(doc.get("params"), ".", f"{name}: params"))
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise InvalidInput(f"{name}: 'stages' must map stage names to definitions")
    for stage_name, definition in stages.items():
        _check_name(name, stage_name)
        for generated, item_context, body in _expand(str(stage_name), definition, context):
            result.stages.append(_build_stage(root, generated, body, item_context))
    return result


def _check_name(file: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{file}: {name!r} is not a valid stage name",
            hint="use letters, digits, '_', '-' and '.' ('@' is reserved for foreach/matrix)",
        )


def _expand(
    name: str, definition: Any, context: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    if not isinstance(definition, dict):
        raise InvalidInput(f"stage '{name}' must be a mapping of fields, got {definition!r}")
    if "foreach" in definition:
        yield from _foreach(name, definition, context)
    elif "matrix" in definition:
        yield from _matrix(name, definition, context)
    else:
        if "do" in definition:
            raise InvalidInput(f"stage '{name}': 'do' needs 'foreach'", hint="add 'foreach:'")
        yield name, context, definition


def _foreach(
    name: str, definition: dict[str, Any], context: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    extra = sorted(set(definition) - {"foreach", "do"})
    if extra:
        raise InvalidInput(f"stage '{name}': '{extra[0]}' must go inside 'do:' with foreach")
    body = definition.get("do")
    if not isinstance(body, dict):
        raise InvalidInput(f"stage '{name}': foreach needs a 'do:' mapping with the stage fields")
    items = render(definition["foreach"], context, f"stage '{name}', field 'foreach'")
    if isinstance(items, dict):
        for key, item in items.items():
            yield f"{name}@{key}", {**context, "key": key, "item": item}, body
    elif isinstance(items, list):
        scalars = all(not isinstance(i, dict | list) for i in items)
        for index, item in enumerate(items):
            suffix = to_text(item) if scalars else str(index)
            yield f"{name}@{suffix}", {**context, "item": item}, body
    else:
        raise InvalidInput(
            f"stage '{name}', field 'foreach': expected a list or a mapping, got {items!r}"
        )


def _matrix(
    name: str, definition: dict[str, Any], context: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    matrix = render(definition["matrix"], context, f"stage '{name}', field 'matrix'")
    if not isinstance(matrix, dict) or not matrix:
        raise InvalidInput(f"stage '{name}', field 'matrix': expected a mapping of lists")
    for key, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise InvalidInput(
                f"stage '{name}', field 'matrix.{key}': expected a non-empty list, got {values!r}"
            )
    body = {k: v for k, v in definition.items() if k != "matrix"}
    keys = list(matrix)
    indexed = [list(enumerate(matrix[k])) for k in keys]
    for combination in itertools.product(*indexed):
        labels = [
            f"{k}{i}" if isinstance(v, dict | list) else to_text(v)
            for k, (i, v) in zip(keys, combination, strict=True)
        ]
        item = {k: v for k, (_, v) in zip(keys, combination, strict=True)}
        yield f"{name}@{'-'.join(labels)}", {**context, "item": item}, body


def _build_stage(root: Path, name: str, body: dict[str, Any], context: dict[str, Any]) -> Stage:
    unknown = sorted(set(body) - _STAGE_KEYS - _GENERATOR_KEYS)
    if unknown:
        raise InvalidInput(
            f"stage '{name}': unknown field '{unknown[0]}'",
            hint=f"stage fields are: {', '.join(sorted(_STAGE_KEYS))}",
        )
    if "vars" in body:
        local, _ = build_context(root, ".", body["vars"], f"stage '{name}'")
        context = dict(context)
        merge_into(context, local, f"stage '{name}' vars")
    where = f"stage '{name}', field"
    if "cmd" not in body:
        raise InvalidInput(
            f"stage '{name}' has no 'cmd'", hint="add 'cmd:' with the command to run"
        )
    cmd = render(body["cmd"], context, f"{where} 'cmd'", flags=True)
    commands = _commands(cmd, name)
    wdir = _wdir(render(body.get("wdir", "."), context, f"{where} 'wdir'"), name)
    outs: list[Out] = []
    for kind in ("outs", "metrics", "plots"):
        rendered = render(body.get(kind), context, f"{where} '{kind}'")
        outs.extend(_outs(rendered, wdir, name, kind))
    params = _params(render(body.get("params"), context, f"{where} 'params'"), wdir, name)
    deps = _path_list(render(body.get("deps"), context, f"{where} 'deps'"), wdir, f"{where} 'deps'")
    _check_overlap(name, deps, outs)
    return Stage(
        name=name,
        commands=commands,
        wdir=wdir,
        deps=tuple(deps),
        outs=tuple(outs),
        params=params,
        frozen=_flag(body, "frozen", name),
        always_changed=_flag(body, "always_changed", name),
        desc=str(body["desc"]) if body.get("desc") is not None else None,
        cmd_is_list=isinstance(cmd, list),
    )


def _check_overlap(name: str, deps: list[str], outs: list[Out]) -> None:
    """An out is deleted before the command runs: it may not be, hold or lie in a dep."""
    for out in outs:
        for dep in deps:
            if out.path == dep:
                how = "is also its dependency"
            elif dep.startswith(out.path + "/"):
                how = f"contains its dependency {dep}"
            elif out.path.startswith(dep + "/"):
                how = f"lies inside its dependency {dep}"
            else:
                continue
            raise InvalidInput(
                f"stage '{name}': output {out.path} {how}",
                hint="a stage's outputs are deleted before it runs; write the output to a path "
                "apart from the stage's deps",
            )


def _commands(cmd: Any, name: str) -> tuple[str, ...]:
    if isinstance(cmd, str | int | float) and not isinstance(cmd, bool) and str(cmd).strip():
        return (str(cmd),)
    if isinstance(cmd, list) and cmd and all(isinstance(c, str | int | float) for c in cmd):
        return tuple(str(c) for c in cmd)
    raise InvalidInput(
        f"stage '{name}', field 'cmd': expected a command or a list of commands, got {cmd!r}"
    )


def _flag(body: dict[str, Any], key: str, name: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"stage '{name}', field '{key}': expected true or false, got {value!r}")
    return value


def _wdir(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"stage '{name}', field 'wdir': expected a folder, got {value!r}")
    return normalize(".", value, f"stage '{name}', field 'wdir'", root_ok=True)


def normalize(wdir: str, path: str, where: str, *, root_ok: bool = False) -> str:
    """``path`` (relative to ``wdir``) relative to the project root; refuses an empty path, the
    root itself (unless ``root_ok``), absolute paths, escapes and ``.git``/``.loopline``."""
    joined = posixpath.normpath(posixpath.join(wdir, path))
    problem = path_problem(path) if not path or posixpath.isabs(path) else None
    problem = problem or path_problem(joined, root_ok=root_ok)
    if problem is not None:
        raise InvalidInput(
            f"{where}: {path!r} {problem}",
            hint=f"use a path to a file or folder inside the project, outside .git/ and {DOT_DIR}/",
        )
    return joined


def _path_list(value: Any, wdir: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{where}: expected a list of paths, got {value!r}")
    return [normalize(wdir, v, where) for v in value]


def _outs(value: Any, wdir: str, name: str, kind: str) -> list[Out]:
    where = f"stage '{name}', field '{kind}'"
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list of paths, got {value!r}")
    outs = []
    for entry in value:
        if isinstance(entry, str) and entry:
            outs.append(Out(normalize(wdir, entry, where), kind=kind))
        elif isinstance(entry, dict) and len(entry) == 1:
            path, options = next(iter(entry.items()))
            options = options or {}
            if not isinstance(path, str) or not isinstance(options, dict):
                raise InvalidInput(f"{where}: {entry!r} must be 'path: {{cache: ..., ...}}'")
            outs.append(
                Out(
                    normalize(wdir, path, where),
                    cache=_option(options, "cache", True, where),
                    persist=_option(options, "persist", False, where),
                    kind=kind,
                )
            )
        else:
            raise InvalidInput(f"{where}: expected a path or 'path: {{options}}', got {entry!r}")
    return outs


def _option(options: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


def _params(value: Any, wdir: str, name: str) -> tuple[ParamDep, ...]:
    where = f"stage '{name}', field 'params'"
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list of keys or 'file: [keys]' entries")
    default = normalize(wdir, DEFAULT_PARAMS, where)
    keys: dict[str, list[str]] = {}
    for entry in value:
        if isinstance(entry, str) and entry:
            keys.setdefault(default, []).append(entry)
        elif isinstance(entry, dict):
            for file, file_keys in entry.items():
                path = normalize(wdir, str(file), where)
                if file_keys is None:
                    keys[path] = []
                elif isinstance(file_keys, list) and all(isinstance(k, str) for k in file_keys):
                    keys.setdefault(path, []).extend(file_keys)
                else:
                    raise InvalidInput(f"{where}: keys of {file} must be a list, got {file_keys!r}")
        else:
            raise InvalidInput(f"{where}: expected a key or 'file: [keys]', got {entry!r}")
    return tuple(ParamDep(f, tuple(dict.fromkeys(k))) for f, k in keys.items())
