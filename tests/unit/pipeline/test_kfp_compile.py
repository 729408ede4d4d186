"""Compiling stages into a Kubeflow Pipelines package that the kfp SDK itself reads back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from loopline.core.errors import InvalidInput, MissingExtra
from loopline.pipeline._kfp import KfpStage, compile_pipeline, kfp_name

pytest.importorskip("kfp")

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

REMOTE = "s3://bucket/churn"
IMAGE = "registry.example/churn:1.4"

# prepare -> featurize@small, featurize@large -> train: a diamond with foreach-style names.
STAGES = [
    KfpStage("prepare", ("python prepare.py data/raw data/prepared",), ".", ("data/raw",),
             ("data/prepared",)),
    KfpStage("featurize@small", ("python featurize.py --size small",), ".", ("data/prepared",),
             ("data/features/small",), ("prepare",)),
    KfpStage("featurize@large", ("python featurize.py --size large",), ".", ("data/prepared",),
             ("data/features/large",), ("prepare",)),
    KfpStage("train", ("python train.py ../data/features", "python report.py"), "src",
             ("data/features", "src/train.py"), ("model.pkl",),
             ("featurize@small", "featurize@large")),
]  # fmt: skip


def compile_to_spec(
    path: Path, stages: list[KfpStage] = STAGES, **options: Any
) -> pipeline_spec_pb2.PipelineSpec:
    settings = {"name": "Churn Model", "image": IMAGE, "remote_url": REMOTE, **options}
    compile_pipeline(stages, output=path, **settings)
    document = next(yaml.safe_load_all(path.read_text()))
    return json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())


def executor(spec: pipeline_spec_pb2.PipelineSpec, task: str) -> Any:
    component = spec.components[spec.root.dag.tasks[task].component_ref.name]
    return spec.deployment_spec["executors"][component.executor_label]["container"]


def test_each_stage_is_a_task_named_after_it(tmp_path: Path) -> None:
    spec = compile_to_spec(tmp_path / "kfp.yaml")
    tasks = spec.root.dag.tasks
    assert spec.pipeline_info.name == "churn-model"
    assert set(tasks) == {"prepare", "featurize-small", "featurize-large", "train"}
    assert {name: t.task_info.name for name, t in tasks.items()} == {
        "prepare": "prepare",
        "featurize-small": "featurize@small",
        "featurize-large": "featurize@large",
        "train": "train",
    }


def test_tasks_wait_for_their_upstream_stages(tmp_path: Path) -> None:
    tasks = compile_to_spec(tmp_path / "kfp.yaml").root.dag.tasks
    assert {name: sorted(t.dependent_tasks) for name, t in tasks.items()} == {
        "prepare": [],
        "featurize-small": ["prepare"],
        "featurize-large": ["prepare"],
        "train": ["featurize-large", "featurize-small"],
    }
    assert not any(t.caching_options.enable_cache for t in tasks.values())


def test_every_task_runs_the_stage_script_in_the_image(tmp_path: Path) -> None:
    spec = compile_to_spec(tmp_path / "kfp.yaml")
    for stage, task in zip(STAGES, ("prepare", "featurize-small", "featurize-large", "train"),
                           strict=True):  # fmt: skip
        container = executor(spec, task)
        assert container["image"] == IMAGE
        assert list(container["command"])[:2] == ["sh", "-c"]
        script = container["command"][2]
        assert script.splitlines()[1] == "set -e"
        for command in stage.commands:
            assert command in script.splitlines()
        assert script.index("loopline pull") < script.index(stage.commands[0])
        push = "loopline push " + " ".join(stage.outs)
        assert script.index(stage.commands[-1]) < script.index(push)
    train = executor(spec, "train")["command"][2].splitlines()
    assert train.index("cd src") < train.index("python train.py ../data/features")


def test_remote_url_is_a_pipeline_parameter_every_task_receives(tmp_path: Path) -> None:
    spec = compile_to_spec(tmp_path / "kfp.yaml")
    parameter = spec.root.input_definitions.parameters["remote_url"]
    assert parameter.default_value.string_value == REMOTE
    for task in spec.root.dag.tasks.values():
        assert task.inputs.parameters["remote_url"].component_input_parameter == "remote_url"
    unset = compile_to_spec(tmp_path / "unset.yaml", remote_url=None)
    assert unset.root.input_definitions.parameters["remote_url"].default_value.string_value == ""


def test_upstream_outs_reach_downstream_tasks_as_pointer_parameters(tmp_path: Path) -> None:
    spec = compile_to_spec(tmp_path / "kfp.yaml")
    inputs = spec.root.dag.tasks["train"].inputs.parameters
    handed = {
        name: (p.task_output_parameter.producer_task, p.task_output_parameter.output_parameter_key)
        for name, p in inputs.items()
        if p.HasField("task_output_parameter")
    }
    assert handed == {
        "pointer_data_features_small": ("featurize-small", "pointer_data_features_small"),
        "pointer_data_features_large": ("featurize-large", "pointer_data_features_large"),
    }
    script = executor(spec, "train")["command"][2]
    assert "> data/features/small.loopline" in script
    assert "cp model.pkl.loopline" in script


def test_the_kfp_sdk_loads_the_package_as_a_component(tmp_path: Path) -> None:
    from kfp import components

    compile_to_spec(tmp_path / "kfp.yaml")
    pipeline = components.load_component_from_file(str(tmp_path / "kfp.yaml"))
    assert pipeline.name == "churn-model"
    assert pipeline.component_spec.inputs["remote_url"].default == REMOTE


def test_stages_listed_before_their_upstream_still_compile(tmp_path: Path) -> None:
    spec = compile_to_spec(tmp_path / "kfp.yaml", stages=list(reversed(STAGES)))
    assert sorted(spec.root.dag.tasks["train"].dependent_tasks) == [
        "featurize-large",
        "featurize-small",
    ]


def test_names_that_clash_after_sanitizing_stay_distinct(tmp_path: Path) -> None:
    stages = [KfpStage("fit@a", ("true",)), KfpStage("fit-a", ("true",), upstream=("fit@a",))]
    tasks = compile_to_spec(tmp_path / "kfp.yaml", stages=stages).root.dag.tasks
    assert list(tasks["fit-a-2"].dependent_tasks) == ["fit-a"]
    assert kfp_name("Featurize@Small_2") == "featurize-small-2"
    assert kfp_name("@@") == "stage"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "no stages"),
        ([KfpStage("a", ("true",)), KfpStage("a", ("true",))], "appears twice"),
        ([KfpStage("a", ("true",), upstream=("ghost",))], "unknown stage"),
        (
            [KfpStage("a", ("true",), upstream=("b",)), KfpStage("b", ("true",), upstream=("a",))],
            "cycle",
        ),
    ],
)
def test_malformed_stage_lists_are_refused(
    tmp_path: Path, stages: list[KfpStage], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        compile_to_spec(tmp_path / "kfp.yaml", stages=stages)
    assert not (tmp_path / "kfp.yaml").exists()


def test_output_must_be_yaml_and_image_given(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\.yaml"):
        compile_to_spec(tmp_path / "kfp.json")
    with pytest.raises(InvalidInput, match="image"):
        compile_to_spec(tmp_path / "kfp.yaml", image=" ")


def test_missing_kfp_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kfp", None)
    with pytest.raises(MissingExtra) as caught:
        compile_to_spec(tmp_path / "kfp.yaml")
    assert "pip install 'loopline[kfp]'" in str(caught.value)


# --- the container step, run the way the Kubeflow launcher runs it ---------------------------


def run_task(
    spec: pipeline_spec_pb2.PipelineSpec,
    task: str,
    *,
    cwd: Path,
    parameters: Mapping[str, str],
    outputs: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Fill in the executor's placeholders like the KFP launcher, then run its command."""

    def fill(arg: str) -> str:
        for name, value in parameters.items():
            arg = arg.replace(f"{{{{$.inputs.parameters['{name}']}}}}", value)
        prefix, _, rest = arg.partition("{{$.outputs.parameters['")
        if rest:
            return str(outputs / task / rest.partition("']")[0])
        return prefix

    container = executor(spec, task)
    argv = [fill(a) for a in (*container["command"], *container["args"])]
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_step_stops_at_the_first_failing_command(tmp_path: Path) -> None:
    """A fake ``loopline`` on PATH records what the step asks of Loopline."""
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir(), work.mkdir()
    fake = bin_dir / "loopline"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "calls"}\n')
    fake.chmod(0o755)
    stage = KfpStage("s", ("echo one > one.txt", "false", "echo three > three.txt"), outs=("o",))
    spec = compile_to_spec(tmp_path / "kfp.yaml", stages=[stage])
    done = run_task(
        spec,
        "s",
        cwd=work,
        parameters={"remote_url": "/srv/remote"},
        outputs=tmp_path / "outputs",
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    assert done.returncode != 0
    assert (work / "one.txt").exists() and not (work / "three.txt").exists()
    assert (tmp_path / "calls").read_text().splitlines() == [
        "init -q .",
        "remote add kfp /srv/remote --default --force --local",
        "pull",
    ]
