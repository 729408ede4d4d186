"""Reading dvc.yaml: schema, vars, params forms, foreach/matrix names, graph checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopline.core.errors import Conflict, InvalidInput, LooplineError, NotFound
from loopline.pipeline import Out, ParamDep, load_pipeline
from loopline.pipeline._dag import select
from tests.conftest import make_tree


def _load(tmp_path: Path, yaml_text: str, **files: str) -> object:
    make_tree(
        tmp_path, {"dvc.yaml": yaml_text, **{k.replace("__", "/"): v for k, v in files.items()}}
    )
    return load_pipeline(tmp_path)


def test_fields_paths_and_params_forms(tmp_path: Path) -> None:
    pipeline = _load(
        tmp_path,
        """
stages:
  train:
    wdir: src
    cmd: [python train.py, echo done]
    deps: [train.py, ../data/x.csv]
    params:
      - lr
      - nested.depth
      - ../conf.json: [a.b]
      - ../all.yaml:
    outs:
      - model.pkl
      - hist.csv: {persist: true}
    metrics:
      - ../metrics.json: {cache: false}
    always_changed: true
    desc: trains
""",
    )
    stage = pipeline.stages["train"]  # type: ignore[attr-defined]
    assert stage.commands == ("python train.py", "echo done") and stage.cmd_is_list
    assert stage.wdir == "src"
    assert stage.deps == ("src/train.py", "data/x.csv")
    assert stage.params == (
        ParamDep("src/params.yaml", ("lr", "nested.depth")),
        ParamDep("conf.json", ("a.b",)),
        ParamDep("all.yaml", ()),
    )
    assert stage.outs == (
        Out("src/model.pkl"),
        Out("src/hist.csv", persist=True),
        Out("metrics.json", cache=False, kind="metrics"),
    )
    assert stage.always_changed and stage.desc == "trains"


def test_vars_params_and_templating_in_cmd_deps_outs(tmp_path: Path) -> None:
    pipeline = _load(
        tmp_path,
        """
vars:
  - cfg.yaml:paths
  - {epochs: 3}
stages:
  fit:
    cmd: python fit.py --epochs ${epochs} --lr ${model.lr}
    deps: ["${paths.data}"]
    outs: ["models/${model.name}.pkl"]
""",
        **{
            "params.yaml": "model: {lr: 0.1, name: rf}\n",
            "cfg.yaml": "paths: {data: d.csv}\nx: 1\n",
        },
    )
    stage = pipeline.stages["fit"]  # type: ignore[attr-defined]
    assert stage.commands == ("python fit.py --epochs 3 --lr 0.1",)
    assert stage.deps == ("d.csv",) and stage.outs[0].path == "models/rf.pkl"
    assert pipeline.vars_files == ("params.yaml", "cfg.yaml")  # type: ignore[attr-defined]


def test_foreach_over_lists_dicts_and_matrix_names(tmp_path: Path) -> None:
    pipeline = _load(
        tmp_path,
        """
vars:
  - sizes: {small: {n: 1}, large: {n: 9}}
stages:
  fe:
    foreach: [x, y]
    do:
      cmd: echo ${item} > fe_${item}.txt
      outs: ["fe_${item}.txt"]
  sz:
    foreach: ${sizes}
    do:
      cmd: echo ${key} ${item.n}
  rows:
    foreach: [{a: 1}, {a: 2}]
    do:
      cmd: echo ${item.a}
  mx:
    matrix:
      lr: [0.1, 1]
      model: [rf, {kind: gbm}]
    cmd: echo ${item.lr} ${item.model}
""",
    )
    names = list(pipeline.stages)  # type: ignore[attr-defined]
    assert names[:6] == ["fe@x", "fe@y", "sz@small", "sz@large", "rows@0", "rows@1"]
    assert names[6:] == ["mx@0.1-rf", "mx@0.1-model1", "mx@1-rf", "mx@1-model1"]
    assert pipeline.stages["sz@large"].commands == ("echo large 9",)  # type: ignore[attr-defined]
    assert pipeline.stages["fe@y"].outs == (Out("fe_y.txt"),)  # type: ignore[attr-defined]


def test_graph_comes_from_outs_and_deps_including_folders(tmp_path: Path) -> None:
    pipeline = _load(
        tmp_path,
        """
stages:
  report: {cmd: echo, deps: [out], outs: [report.md]}
  a: {cmd: echo, outs: [out/a.txt]}
  b: {cmd: echo, deps: [out/a.txt], outs: [out/b.txt]}
""",
    )
    assert list(pipeline.stages) == ["a", "b", "report"]  # type: ignore[attr-defined]
    assert pipeline.upstream == {"report": ("a", "b"), "a": (), "b": ("a",)}  # type: ignore[attr-defined]
    order = list(pipeline.stages)  # type: ignore[attr-defined]
    assert select(["b"], order, pipeline.upstream) == ["a", "b"]  # type: ignore[attr-defined]
    assert select(["b"], order, pipeline.upstream, single=True) == ["b"]  # type: ignore[attr-defined]
    assert select(["dvc.yaml:b"], order, pipeline.upstream, single=True) == ["b"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("yaml_text", "error", "pattern"),
    [
        (
            "stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n"
            "  b: {cmd: x, deps: [c.txt], outs: [b.txt]}\n"
            "  c: {cmd: x, deps: [a.txt], outs: [c.txt]}\n",
            InvalidInput,
            r"cycle: a -> b -> c -> a",
        ),
        (
            "stages:\n  a: {cmd: x, outs: [o.txt]}\n  b: {cmd: y, outs: [o.txt]}\n",
            Conflict,
            r"o.txt is an output of stages 'a' and 'b'",
        ),
        (
            "stages:\n  a: {cmd: x, outs: [d]}\n  b: {cmd: y, outs: [d/f.txt]}\n",
            Conflict,
            r"output d/f.txt of stage 'b' is inside output d of stage 'a'",
        ),
        ("stages:\n  a: {cmd: 'echo ${nope}'}\n", InvalidInput, r"stage 'a', field 'cmd'.*nope"),
        ("stages:\n  a: {cmd: x, outz: [o]}\n", InvalidInput, r"stage 'a': unknown field 'outz'"),
        ("stages:\n  a: {deps: [x]}\n", InvalidInput, r"stage 'a' has no 'cmd'"),
        ("stages:\n  a: {cmd: x, frozen: maybe}\n", InvalidInput, r"stage 'a', field 'frozen'"),
        ("stages:\n  a: {cmd: x, outs: [../o]}\n", InvalidInput, r"outside the project"),
        ("stages:\n  a:\n    cmd: x\n   outs: [o]\n", InvalidInput, r"not valid YAML at line"),
        ("stages:\n  a: {cmd: x, deps: [${x}]}\n", InvalidInput, r"not valid YAML"),
        ("stages:\n  a@b: {cmd: x}\n", InvalidInput, r"not a valid stage name"),
        ("vars: [{a: 1}, {a: 2}]\nstages: {}\n", InvalidInput, r"'a' is defined twice"),
        ("vars: [missing.yaml]\nstages: {}\n", NotFound, r"vars file missing.yaml does not exist"),
        (
            "stages:\n  a: {foreach: 3, do: {cmd: x}}\n",
            InvalidInput,
            r"expected a list or a mapping",
        ),
    ],
)
def test_bad_pipelines_get_precise_errors(
    tmp_path: Path, yaml_text: str, error: type[LooplineError], pattern: str
) -> None:
    with pytest.raises(error, match=pattern) as info:
        _load(tmp_path, yaml_text)
    assert info.value.hint or isinstance(info.value, InvalidInput)


def test_both_pipeline_file_names_is_ambiguous(tmp_path: Path) -> None:
    make_tree(tmp_path, {"dvc.yaml": "stages: {}\n", "pipeline.yaml": "stages: {}\n"})
    with pytest.raises(InvalidInput, match=r"both dvc.yaml and pipeline.yaml"):
        load_pipeline(tmp_path)


def test_pipeline_yaml_is_read_too(tmp_path: Path) -> None:
    make_tree(tmp_path, {"pipeline.yaml": "stages:\n  a: {cmd: echo hi}\n"})
    assert list(load_pipeline(tmp_path).stages) == ["a"]


@pytest.mark.parametrize("field", ["deps", "outs", "metrics", "plots"])
@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (".", "is the project root itself"),
        ("sub/..", "is the project root itself"),
        ("./", "is the project root itself"),
        (".git", r"is inside \.git/"),
        (".git/hooks/pre-commit", r"is inside \.git/"),
        ("sub/../.git/config", r"is inside \.git/"),
        (".loopline/cache", r"is inside \.loopline/"),
        ("/etc/passwd", "is absolute"),
        ("../o", "is outside the project"),
        ("sub/../../o", "is outside the project"),
    ],
)
def test_paths_that_are_not_a_file_of_the_project_are_refused(
    tmp_path: Path, field: str, path: str, problem: str
) -> None:
    text = f"stages:\n  a:\n    cmd: x\n    {field}: ['{path}']\n"
    with pytest.raises(InvalidInput, match=rf"stage 'a', field '{field}': .* {problem}") as info:
        _load(tmp_path, text)
    assert info.value.hint and "inside the project" in info.value.hint


def test_an_empty_path_and_a_wdir_relative_escape_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"field 'outs'.*expected a path"):
        _load(tmp_path, "stages:\n  a: {cmd: x, outs: ['']}\n")
    with pytest.raises(InvalidInput, match=r"field 'outs': '\.\.' is the project root itself"):
        _load(tmp_path, "stages:\n  a: {cmd: x, wdir: sub, outs: ['..']}\n")
    with pytest.raises(InvalidInput, match=r"field 'wdir': '\.git' is inside \.git/"):
        _load(tmp_path, "stages:\n  a: {cmd: x, wdir: .git}\n")
    stage = _load(tmp_path, "stages:\n  a: {cmd: x, wdir: sub, deps: [../in], outs: [o]}\n")
    assert stage.stages["a"].deps == ("in",) and stage.stages["a"].outs[0].path == "sub/o"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("deps", "outs", "message"),
    [
        ("[data/raw.csv]", "[data]", r"output data contains its dependency data/raw.csv"),
        ("[data]", "[data]", r"output data is also its dependency"),
        ("[data]", "[data/out.csv]", r"output data/out.csv lies inside its dependency data"),
        ("[raw.csv]", "[{metrics: {cache: false}}]", None),
    ],
)
def test_an_out_overlapping_a_dep_of_the_same_stage_is_refused(
    tmp_path: Path, deps: str, outs: str, message: str | None
) -> None:
    text = f"stages:\n  a: {{cmd: x, deps: {deps}, outs: {outs}}}\n"
    if message is None:
        _load(tmp_path, text)
        return
    with pytest.raises(InvalidInput, match=rf"stage 'a': {message}") as info:
        _load(tmp_path, text)
    assert info.value.hint and "deleted before it runs" in info.value.hint
