"""Pipelines as a user drives them: the real ``loopline`` executable in a real git project."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from loopline.pipeline import read_lock
from tests.conftest import LOOPLINE, git, make_tree, run_cli

CHURN = """
stages:
  prepare:
    cmd: python3 -c "import sys; open('clean.csv','w').write(open('raw.csv').read().upper())"
    deps: [raw.csv]
    outs: [clean.csv]
  train:
    cmd: >-
      python3 -c "import json; json.dump({'auc': ${train.auc}}, open('metrics.json','w'));
      open('model.bin','w').write(open('clean.csv').read())"
    deps: [clean.csv]
    params: [train.depth]
    outs: [model.bin]
    metrics:
      - metrics.json: {cache: false}
"""


def _one_red_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("error:")]) == 1


def test_churn_story_from_a_bare_folder(tmp_path: Path) -> None:
    root = tmp_path / "churn"
    make_tree(
        root,
        {"dvc.yaml": CHURN, "params.yaml": "train: {depth: 3, auc: 0.8}\n", "raw.csv": "a,b\n"},
    )
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    first = run_cli("repro", cwd=root)
    assert first.exit_code == 0, first.output
    assert "Initialized a Loopline project" in first.stdout
    assert "Running stage 'prepare'" in first.stdout and "Running stage 'train'" in first.stdout
    assert (root / "model.bin").read_text() == "A,B\n"

    again = run_cli("repro", cwd=root)
    assert "Stage 'train' didn't change, skipping" in again.stdout
    assert run_cli("status", cwd=root).stdout.strip() == "Data and pipelines are up to date."

    (root / "params.yaml").write_text("train: {depth: 4, auc: 0.8}\n")
    status = json.loads(run_cli("status", "--json", cwd=root).stdout)
    assert status == {"train": [{"changed deps": {"params.yaml": {"train.depth": "modified"}}}]}
    text = run_cli("status", cwd=root).stdout
    assert "train:" in text and "modified:" in text and "train.depth" in text
    assert run_cli("repro", cwd=root).exit_code == 0

    runs = run_cli("runs", "list", "--all", "--json", cwd=root)
    names = [r["info"]["run_name"] for r in json.loads(runs.stdout)]
    assert names.count("train") == 2 and names.count("prepare") == 1 and names.count("repro") == 2

    dag = run_cli("dag", "--mermaid", cwd=root).stdout
    assert "flowchart TD" in dag and '["prepare"]' in dag and "-->" in dag
    shown = json.loads(run_cli("metrics", "show", "--json", cwd=root).stdout)
    assert shown == {"": {"data": {"metrics.json": {"data": {"auc": 0.8}}}}}
    table = run_cli("metrics", "show", cwd=root).stdout.splitlines()
    assert table[0].split() == ["Path", "auc"] and table[1].split() == ["metrics.json", "0.8"]

    (root / "model.bin").unlink()
    restored = run_cli("checkout", "model.bin", cwd=root)
    assert restored.exit_code == 0 and (root / "model.bin").read_text() == "A,B\n"
    for target in ("train", "dvc.yaml:train"):
        (root / "model.bin").unlink()
        by_stage = run_cli("checkout", target, cwd=root)
        assert by_stage.exit_code == 0, by_stage.output
        assert (root / "model.bin").read_text() == "A,B\n"


def test_params_and_metrics_diff_against_head(project: Path) -> None:
    make_tree(
        project,
        {"dvc.yaml": CHURN, "params.yaml": "train: {depth: 3, auc: 0.8}\n", "raw.csv": "x\n"},
    )
    assert run_cli("repro").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "baseline")
    (project / "params.yaml").write_text("train: {depth: 3, auc: 0.9}\n")
    assert run_cli("repro").exit_code == 0
    params = json.loads(run_cli("params", "diff", "--json").stdout)
    assert params["params.yaml"]["train.auc"]["new"] == 0.9
    metrics = json.loads(run_cli("metrics", "diff", "--json").stdout)
    assert metrics["metrics.json"]["auc"]["old"] == 0.8
    assert metrics["metrics.json"]["auc"]["diff"] == pytest.approx(0.1)
    table = run_cli("metrics", "diff").stdout
    assert "auc" in table and "HEAD" in table and "workspace" in table


@pytest.mark.parametrize(
    ("pipeline", "code", "message"),
    [
        (
            "stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n"
            "  b: {cmd: x, deps: [a.txt], outs: [b.txt]}\n",
            2,
            "cycle: a -> b -> a",
        ),
        ("stages:\n  a: {cmd: x, outs: [o]}\n  b: {cmd: y, outs: [o]}\n", 4, "stages 'a' and 'b'"),
        ("stages:\n  a: {cmd: 'echo ${model.size}'}\n", 2, "${model.size} is not defined"),
        ("stages:\n  a:\n    cmd: x\n     outs: o\n", 2, "dvc.yaml is not valid YAML at line"),
        ("stages:\n  a: {cmd: x, deps: [missing.csv]}\n", 3, "no stage produces it"),
        (
            "stages:\n  a: {cmd: 'echo ${lr}'}\n# params: - lr: 1\n",
            2,
            "params file params.yaml holds a list, not a mapping",
        ),
        ("stages:\n  a: {cmd: 'echo oops && exit 5'}\n", 9, "stage 'a' failed"),
    ],
)
def test_bad_input_is_one_red_line(project: Path, pipeline: str, code: int, message: str) -> None:
    (project / "dvc.yaml").write_text(pipeline)
    if "# params: " in pipeline:
        (project / "params.yaml").write_text(pipeline.split("# params: ")[1])
    result = run_cli("repro")
    assert result.exit_code == code, result.output
    assert message in result.stderr
    _one_red_line(result.stderr)
    if code == 9:
        assert "oops" in result.stdout


def test_a_metrics_file_that_holds_no_metrics_is_reported_by_repro_and_metrics_show(
    project: Path,
) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: echo acc=0.9 > m.txt && echo '{\"a\":1}' > ok.json"
            "\n    metrics: [m.txt, ok.json]\n"
        },
    )
    ran = run_cli("repro")
    assert ran.exit_code == 0, ran.output  # as DVC: the stage ran; the file is its business
    assert "warning: stage 's': metrics file m.txt holds text, not a mapping" in ran.stderr
    shown = run_cli("metrics", "show")
    assert shown.exit_code == 2 and "ok.json" in shown.stdout
    assert "error: metrics file m.txt holds text" in shown.stderr
    _one_red_line(shown.stderr)
    as_json = run_cli("metrics", "show", "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)[""]["data"]["ok.json"] == {"data": {"a": 1}}


def test_every_file_and_command_a_hint_names_exists_and_works(project: Path) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: mkdir -p data && echo x > data/out.txt && "
            "echo '{\"a\":1}' > m.json\n    deps: [raw.csv]\n    outs: [data/out.txt]\n"
            "    metrics: [{m.json: {cache: false}}]\n",
        },
    )
    untracked = run_cli("repro")
    assert untracked.exit_code == 3
    assert "hint: create raw.csv, or fix the path in the stage's deps" in untracked.stderr
    (project / "raw.csv").write_text("a\n")
    assert run_cli("add", "raw.csv").exit_code == 0
    (project / "raw.csv").unlink()
    tracked = run_cli("repro")
    assert "restore it with `loopline checkout raw.csv`" in tracked.stderr
    assert run_cli("checkout", "raw.csv").exit_code == 0

    ran = run_cli("repro")
    assert ran.exit_code == 0, ran.output
    assert "git add loopline.lock data/.gitignore m.json\n" in ran.stdout
    assert all((project / f).is_file() for f in ("loopline.lock", "data/.gitignore", "m.json"))

    (project / "data" / "out.txt").write_text("edited by hand\n")
    refused = run_cli("repro", "-f")  # --force is the way to discard: it does
    assert refused.exit_code == 0 and (project / "data" / "out.txt").read_text() == "x\n"
    (project / "data" / "out.txt").write_text("edited by hand\n")
    assert "use `loopline commit s` to keep the edits" in run_cli("status").stdout
    refused = run_cli("repro")
    assert refused.exit_code == 4, refused.output
    _one_red_line(refused.stderr)
    assert "keep the edit with `loopline commit s`" in refused.stderr
    kept = run_cli("commit", "s")
    assert kept.exit_code == 0, kept.output
    assert (
        "Committed stage 's'" in kept.stdout
        and "git add loopline.lock data/.gitignore" in kept.stdout
    )
    assert "Data and pipelines are up to date." in run_cli("repro").stdout
    assert (project / "data" / "out.txt").read_text() == "edited by hand\n"


def test_dag_refuses_two_formats_at_once(project: Path) -> None:
    (project / "dvc.yaml").write_text("stages:\n  a: {cmd: x}\n")
    result = run_cli("dag", "--dot", "--mermaid")
    assert result.exit_code == 2 and "--dot and --mermaid" in result.stderr
    assert result.stdout == ""


def test_init_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run_cli("init", "-q", cwd=tmp_path)
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def _interrupt_repro(project: Path, wait_for: str) -> bytes:
    """Start `loopline repro`, press Ctrl-C once ``wait_for`` exists; its stderr."""
    proc = subprocess.Popen(
        [LOOPLINE, "repro"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
        start_new_session=True,
        # A job started in the background inherits SIGINT ignored, and Python then installs no
        # Ctrl-C handler; a terminal's Ctrl-C is what this test plays, so restore the default.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (project / wait_for).exists():
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    return stderr


SLOW = (
    "stages:\n  fast: {cmd: 'echo 1 > a.txt', outs: [a.txt]}\n"
    "  slow: {cmd: 'echo %s > b.txt && echo half > part.txt && sleep 30 && echo 2 > b.txt',"
    " deps: [a.txt], outs: [b.txt]}\n"
)


def test_ctrl_c_mid_run_leaves_a_whole_lock_and_no_half_written_out(project: Path) -> None:
    make_tree(project, {"dvc.yaml": SLOW % "half"})
    stderr = _interrupt_repro(project, "part.txt")
    assert (
        b"interrupted: stage 'slow' was stopped (half-written b.txt removed); the stages that "
        b"finished are kept in loopline.lock; run `loopline repro` again to finish"
    ) in stderr
    lock = read_lock(project / "loopline.lock")
    assert set(lock) == {"fast"}
    assert not list(project.glob(".loopline.lock.*"))
    assert not (project / "b.txt").exists()
    status = json.loads(run_cli("status", "--json").stdout)
    assert list(status) == ["slow"]
    runs = json.loads(run_cli("runs", "list", "--all", "-e", "pipeline", "--json").stdout)
    by_name = {r["info"]["run_name"]: r["info"]["status"] for r in runs}
    assert by_name == {"repro": "KILLED", "fast": "FINISHED", "slow": "KILLED"}


def test_ctrl_c_puts_back_the_outs_the_lock_records(project: Path) -> None:
    make_tree(project, {"dvc.yaml": SLOW.replace("sleep 30", "true") % "half"})
    assert run_cli("repro").exit_code == 0
    recorded = read_lock(project / "loopline.lock")["slow"]
    (project / "part.txt").unlink()
    make_tree(project, {"dvc.yaml": SLOW % "changed"})
    stderr = _interrupt_repro(project, "part.txt")
    assert b"stage 'slow' was stopped (b.txt put back as loopline.lock records it)" in stderr
    assert (project / "b.txt").read_text() == "2\n"
    assert read_lock(project / "loopline.lock")["slow"] == recorded


@pytest.mark.parametrize("out", [".", "sub/..", ".git"])
def test_an_out_naming_the_project_or_git_is_refused_and_nothing_is_deleted(
    tmp_path: Path, out: str
) -> None:
    root = tmp_path / "proj"
    make_tree(
        root,
        {"dvc.yaml": f"stages:\n  a: {{cmd: echo x > o, outs: ['{out}']}}\n", "keep.txt": "k\n"},
    )
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    result = run_cli("repro", cwd=root)
    assert result.exit_code == 2, result.output
    assert "stage 'a', field 'outs'" in result.stderr
    _one_red_line(result.stderr)
    assert (root / "keep.txt").read_text() == "k\n" and (root / ".git" / "HEAD").is_file()


def test_an_out_holding_a_dep_of_its_stage_is_refused_before_anything_is_deleted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    make_tree(
        root,
        {
            "dvc.yaml": "stages:\n  a: {cmd: ls > l, deps: [data/raw.csv], outs: [data]}\n",
            "data/raw.csv": "a,b\n",
        },
    )
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    result = run_cli("repro", cwd=root)
    assert result.exit_code == 2, result.output
    assert "output data contains its dependency data/raw.csv" in result.stderr
    _one_red_line(result.stderr)
    assert (root / "data" / "raw.csv").read_text() == "a,b\n"


def test_two_repros_of_different_stages_at_once_both_end_in_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_tree(
        root,
        {
            "dvc.yaml": "stages:\n"
            "  a: {cmd: sleep 2 && echo x > a.txt, outs: [a.txt]}\n"
            "  b: {cmd: sleep 2 && echo x > b.txt, outs: [b.txt]}\n"
        },
    )
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    assert run_cli("init", cwd=root).exit_code == 0
    procs = [
        subprocess.Popen(
            [LOOPLINE, "repro", stage],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stage in ("a", "b")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    assert set(read_lock(root / "loopline.lock")) == {"a", "b"}
    assert run_cli("status", cwd=root).stdout.strip() == "Data and pipelines are up to date."


@pytest.mark.parametrize(
    ("bad", "command"),
    [
        ("deps: 5", "status"),
        ("outs: [{path: ../outside/x, hash: blake3, oid: OID, size: 2}]", "checkout"),
    ],
)
def test_a_damaged_lock_is_one_red_line_and_nothing_is_written_outside(
    tmp_path: Path, bad: str, command: str
) -> None:
    root = tmp_path / "proj"
    make_tree(root, {"dvc.yaml": "stages:\n  a: {cmd: echo x > o.txt, outs: [o.txt]}\n"})
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    assert run_cli("repro", cwd=root).exit_code == 0
    oid = read_lock(root / "loopline.lock")["a"].outs[0].oid
    lock = "schema: '1.0'\nstages:\n  a:\n    cmd: echo x > o.txt\n    " + bad + "\n"
    (root / "loopline.lock").write_text(lock.replace("OID", oid))
    result = run_cli(command, cwd=root)
    assert result.exit_code == 2, result.output
    assert "lock file loopline.lock is damaged" in result.stderr
    assert "internal error" not in result.stderr
    _one_red_line(result.stderr)
    assert not (tmp_path / "outside").exists()


def test_dry_run_says_repro_would_refuse_and_status_puts_the_edit_first(project: Path) -> None:
    make_tree(project, {"dvc.yaml": "stages:\n  s: {cmd: echo x > o.txt, outs: [o.txt]}\n"})
    assert run_cli("repro").exit_code == 0
    (project / "o.txt").write_text("mine\n")
    dry = run_cli("repro", "--dry")
    assert dry.exit_code == 0, dry.output
    assert "Would run stage 's'" in dry.stdout
    assert (
        "warning: repro would refuse to start: o.txt, an output of stage 's', was changed"
        in dry.stderr
    )
    assert "keep the edit with `loopline commit s`" in dry.stderr
    hints = [line for line in run_cli("status").stdout.splitlines() if line.startswith("(")]
    assert "`loopline commit s`" in hints[0] and "refuses to overwrite" in hints[0], hints
    assert (project / "o.txt").read_text() == "mine\n"


def test_git_add_hint_quotes_spaces_and_names_paths_from_the_current_folder(
    project: Path,
) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: echo x > 'out dir/o.txt'\n"
            "    outs:\n      - out dir/o.txt\n",
            "sub/keep": "",
        },
    )
    hint = "git add ../loopline.lock '../out dir/.gitignore'\n"
    ran = run_cli("repro", cwd=project / "sub")
    assert ran.exit_code == 0, ran.output
    assert hint in ran.stdout
    # typed as shown, it works
    subprocess.run(hint, shell=True, cwd=project / "sub", check=True)
    (project / "out dir" / "o.txt").write_text("mine\n")
    kept = run_cli("-C", "sub", "commit", "s", cwd=project)
    assert kept.exit_code == 0, kept.output
    assert hint in kept.stdout


def test_checkout_hints_name_the_target_and_never_guess_between_data_and_a_stage(
    project: Path,
) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  froz:\n    cmd: echo x > f.txt\n    outs: [f.txt]\n"
            "  train:\n    cmd: echo t > t.txt\n    outs: [t.txt]\n",
            "other.yaml": "stages: {}\n",
            "train": "data\n",
        },
    )
    assert run_cli("repro").exit_code == 0
    assert run_cli("add", "train").exit_code == 0

    (project / "f.txt").write_text("mine\n")
    refused = run_cli("checkout", "froz")
    assert refused.exit_code == 4, refused.output
    assert "(1 file, e.g. f.txt)" in refused.stderr
    assert "discard them with `loopline checkout --force f.txt`" in refused.stderr
    assert run_cli("checkout", "--force", "f.txt").exit_code == 0
    assert (project / "f.txt").read_text() == "x\n"

    other = run_cli("checkout", "other.yaml:froz")
    assert other.exit_code == 3, other.output
    assert "other.yaml is not a pipeline file" in other.stderr
    assert "add" not in other.stderr and "dvc.yaml:froz" in other.stderr

    both = run_cli("checkout", "train")
    assert both.exit_code == 2, both.output
    assert "train is ambiguous: it names tracked data (train.loopline) and a stage" in both.stderr
    assert "dvc.yaml:train" in both.stderr
    (project / "t.txt").unlink()
    assert run_cli("checkout", "dvc.yaml:train").exit_code == 0
    assert (project / "t.txt").read_text() == "t\n"
    (project / "train").write_text("edited\n")
    data = run_cli("checkout", "train.loopline")
    assert "`loopline checkout --force train.loopline`" in data.stderr, data.output


def test_metrics_diff_says_when_no_metrics_file_could_be_read(project: Path) -> None:
    cmd = "echo 'acc: [1' > m.yaml && echo nope > n.json"
    stage = f'stages:\n  s:\n    cmd: "{cmd}"\n    metrics: [m.yaml, n.json]\n'
    make_tree(project, {"dvc.yaml": stage})
    assert run_cli("repro").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "broken metrics")
    diff = run_cli("metrics", "diff")
    assert diff.exit_code == 2, diff.output
    assert "No metric changes" not in diff.stdout
    assert "no metrics to compare: no metrics file could be read: m.yaml is not valid YAML" in (
        diff.stderr
    )
    assert "(and 1 more)" in diff.stderr
    make_tree(project, {"n.json": '{"acc": 1}'})  # one readable: the other is named as left out
    partial = run_cli("metrics", "diff")
    assert partial.exit_code == 0, partial.output
    assert "warning: m.yaml was left out: m.yaml is not valid YAML" in partial.stderr
