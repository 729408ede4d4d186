"""Kubeflow Pipelines as a user drives it: ``loopline kfp compile`` and ``submit``, and the
compiled tasks run one after another in fresh checkouts, the way Kubeflow runs them in pods."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loopline.pipeline._kfp import KfpStage, compile_pipeline
from tests.conftest import git, make_tree, run_cli

pytest.importorskip("kfp")

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.unit.pipeline.test_kfp_compile import run_task

DVC_YAML = """\
stages:
  prepare:
    cmd: mkdir -p data/prepared && tr a-z A-Z < data/raw/words.txt > data/prepared/words.txt
    deps: [data/raw]
    outs: [data/prepared]
  featurize:
    foreach: [small, large]
    do:
      cmd: mkdir -p data/features/${item} && cp data/prepared/words.txt data/features/${item}/
      deps: [data/prepared]
      outs:
      - data/features/${item}
  train:
    wdir: src
    cmd: cat ../data/features/small/words.txt ../data/features/large/words.txt > ../model.txt
    deps: [../data/features, train.sh]
    outs: [../model.txt]
"""


def _load_spec(path: Path) -> pipeline_spec_pb2.PipelineSpec:
    document = next(yaml.safe_load_all(path.read_text()))
    return json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())


def test_compile_turns_dvc_yaml_into_a_package(project: Path) -> None:
    make_tree(project, {"dvc.yaml": DVC_YAML, "src/train.sh": "", "data/raw/words.txt": "a\n"})
    result = run_cli("kfp", "compile", "--image", "registry.example/p:1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "package": "kfp-pipeline.yaml",
        "name": "project",
        "image": "registry.example/p:1",
        "stages": 4,
    }
    tasks = _load_spec(project / "kfp-pipeline.yaml").root.dag.tasks
    assert {name: sorted(t.dependent_tasks) for name, t in tasks.items()} == {
        "prepare": [],
        "featurize-small": ["prepare"],
        "featurize-large": ["prepare"],
        "train": ["featurize-large", "featurize-small"],
    }
    human = run_cli("kfp", "compile", "--image", "i:1", "-o", "out/p.yaml", "--name", "Churn")
    assert human.exit_code == 0, human.output
    assert human.stdout.startswith("Compiled 4 stages of 'Churn' into out/p.yaml")
    assert _load_spec(project / "out" / "p.yaml").pipeline_info.name == "churn"


def test_compile_refuses_to_overwrite_the_pipeline_definition(project: Path) -> None:
    make_tree(project, {"dvc.yaml": DVC_YAML})
    result = run_cli("kfp", "compile", "--image", "i:1", "-o", "dvc.yaml")
    assert result.exit_code == 2
    assert "error: dvc.yaml is a pipeline definition file" in result.stderr
    assert (project / "dvc.yaml").read_text() == DVC_YAML


def test_compile_requires_an_image_and_help_states_the_contract(project: Path) -> None:
    missing = run_cli("kfp", "compile")
    assert missing.exit_code == 2 and "--image" in missing.stderr
    help_text = " ".join(run_cli("kfp", "compile", "--help").stdout.split())
    assert "must hold the project and `loopline`" in help_text
    assert "`loopline pull`" in help_text and "`loopline push`" in help_text


def test_submit_to_an_unreachable_host_is_one_clear_error(project: Path) -> None:
    package = compile_pipeline(
        [KfpStage("train", ("true",))], name="p", image="i:1", remote_url=None,
        output=project / "kfp-pipeline.yaml",
    )  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = run_cli("kfp", "submit", str(package), "--host", host, "--json")
    assert result.exit_code == 6
    assert f"error: cannot reach the Kubeflow Pipelines server at {host}" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_help_does_not_import_kfp() -> None:
    probe = (
        "from loopline.cli import main\n"
        "for argv in (['--help'], ['kfp', '--help'], ['kfp', 'submit', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "import sys; print('kfp' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_tasks_hand_data_to_each_other_through_the_remote(project: Path, tmp_path: Path) -> None:
    """Each task runs in its own fresh clone of the repository (the image), as in Kubeflow."""
    make_tree(project, {"dvc.yaml": DVC_YAML, "src/train.sh": "", "data/raw/words.txt": "ab\n"})
    remote = tmp_path / "remote"
    assert run_cli("remote", "add", "store", str(remote), "--default", "--local").exit_code == 0
    assert run_cli("add", "data/raw").exit_code == 0
    assert run_cli("push").exit_code == 0
    assert run_cli("repro").exit_code == 0  # the committed lock names outs the remote lacks
    git(project, "add", "-A")
    git(project, "commit", "-qm", "raw data, pipeline and lock")
    package = tmp_path / "p.yaml"
    compiled = run_cli(
        "kfp", "compile", "--image", "i:1", "--remote-url", str(remote), "-o", str(package)
    )
    assert compiled.exit_code == 0, compiled.output
    spec = _load_spec(package)
    outputs = tmp_path / "outputs"
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for task in ("prepare", "featurize-small", "featurize-large", "train"):
        pod = tmp_path / "pods" / task
        git(tmp_path, "clone", "-q", str(project), str(pod))
        parameters = {"remote_url": str(remote)}
        for name, value in spec.root.dag.tasks[task].inputs.parameters.items():
            if value.HasField("task_output_parameter"):
                source = value.task_output_parameter
                parameters[name] = (
                    outputs / source.producer_task / source.output_parameter_key
                ).read_text()
        done = run_task(spec, task, cwd=pod, parameters=parameters, outputs=outputs, env=env)
        assert done.returncode == 0, done.stdout + done.stderr

    # A user fetches the trained model with the pointer the last task handed out.
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(project), str(checkout))
    (checkout / "model.txt.loopline").write_text(
        (outputs / "train" / "pointer_model_txt").read_text()
    )
    run_cli("init", "-q", ".", cwd=checkout)
    run_cli("remote", "add", "store", str(remote), "--default", "--local", cwd=checkout)
    pulled = run_cli("pull", "model.txt", cwd=checkout)
    assert pulled.exit_code == 0, pulled.output
    assert (checkout / "model.txt").read_text() == "AB\nAB\n"
