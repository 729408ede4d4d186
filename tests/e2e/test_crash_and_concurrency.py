"""Killed processes and concurrent writers never leave partial objects or broken pointers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from loopline.core.hashing import hash_file
from loopline.pipeline import read_lock
from tests.conftest import LOOPLINE, make_tree, run_cli


def _assert_every_object_is_whole(project: Path) -> int:
    count = 0
    for obj in (project / ".loopline" / "objects").glob("??/*"):
        name = obj.parent.name + obj.name
        digest = hash_file(obj) + (".dir" if name.endswith(".dir") else "")
        assert digest == name, f"partial or corrupt object visible: {obj}"
        count += 1
    return count


def _many_files(project: Path, count: int, size: int) -> None:
    block = os.urandom(size)
    make_tree(
        project,
        {
            f"data/part{i % 50:02d}/f{i:05d}.bin": block[: size - 8] + i.to_bytes(8, "big")
            for i in range(count)
        },
    )


@pytest.mark.slow
def test_kill_9_during_add_leaves_only_whole_objects_and_rerun_completes(project: Path) -> None:
    _many_files(project, 6000, 16 * 1024)
    tmp_dir = project / ".loopline" / "objects" / "tmp"
    proc = subprocess.Popen([LOOPLINE, "add", "data"], cwd=project)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if tmp_dir.is_dir() and any(tmp_dir.iterdir()):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "add finished before it could be interrupted; use more data"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert not (project / "data.loopline").exists()  # the pointer is written last
    _assert_every_object_is_whole(project)
    again = run_cli("add", "data")
    assert again.exit_code == 0, again.output
    assert _assert_every_object_is_whole(project) == 6001
    assert run_cli("status").stdout.strip() == "Data is up to date."


def test_two_adds_of_the_same_folder_at_once(project: Path) -> None:
    _many_files(project, 1500, 2048)
    procs = [
        subprocess.Popen([LOOPLINE, "add", "data"], cwd=project, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert _assert_every_object_is_whole(project) == 1501
    assert run_cli("status").stdout.strip() == "Data is up to date."
    assert "nfiles: 1500" in (project / "data.loopline").read_text()


def test_interrupted_checkout_never_leaves_a_half_written_file(project: Path) -> None:
    make_tree(project, {"big.bin": os.urandom(64 * 1024 * 1024)})
    run_cli("add", "big.bin")
    original = hash_file(project / "big.bin")
    (project / "big.bin").unlink()
    proc = subprocess.Popen([LOOPLINE, "checkout"], cwd=project)
    time.sleep(0.15)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    target = project / "big.bin"
    assert not target.exists() or hash_file(target) == original
    assert run_cli("checkout").exit_code == 0
    assert hash_file(target) == original


def _default_sigint() -> None:
    # A job started in the background inherits SIGINT ignored, and Python then installs no
    # Ctrl-C handler; a terminal's Ctrl-C is what these tests play, so restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_repro(project: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [LOOPLINE, "repro", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not path.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    assert path.exists()


# the stage writes a folder of many files, says so, then works on
MANY_THEN_WAIT = (
    'stages:\n  s:\n    cmd: >-\n      python3 -c "import os, pathlib, time;'
    " d = pathlib.Path('out'); d.mkdir();"
    " [(d / ('f' + str(i))).write_text(str(i) + '{tag}') for i in range({count})];"
    " pathlib.Path('written').write_text('');"
    ' time.sleep({sleep})"\n'
    "    outs: [out]\n"
)


def test_ctrl_c_pressed_again_during_the_clean_up_cannot_leave_half_written_outs(
    project: Path,
) -> None:
    make_tree(project, {"dvc.yaml": MANY_THEN_WAIT.format(tag="", count=6000, sleep=30)})
    proc = _start_repro(project)
    _wait_for(project / "written", proc)
    os.killpg(proc.pid, signal.SIGINT)
    # an impatient user keeps pressing Ctrl-C while repro removes what the stage half wrote
    while proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.001)
    _, stderr = proc.communicate(timeout=30)
    text = stderr.decode()
    # 130, or killed by a press that landed after Python restored the default Ctrl-C at exit
    assert proc.returncode in (130, -signal.SIGINT), text
    assert "Traceback" not in text
    assert "interrupted: stage 's' was stopped (half-written out removed)" in text, text
    assert "nothing half-written was kept" not in text
    assert not (project / "out").exists()
    status = run_cli("status")
    assert "commit" not in status.stdout, status.stdout


def test_ctrl_c_while_the_outputs_of_a_finished_command_are_stored_commits_them(
    project: Path,
) -> None:
    make_tree(project, {"dvc.yaml": MANY_THEN_WAIT.format(tag="", count=6000, sleep=0)})
    proc = _start_repro(project)
    _wait_for(project / "written", proc)
    time.sleep(0.1)  # the command has ended: repro is hashing and storing 6000 files
    assert proc.poll() is None, "repro finished storing before Ctrl-C: use more files"
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    text = stderr.decode()
    assert proc.returncode == 130, text
    assert "nothing half-written was kept" not in text
    assert "the stages that finished are kept in loopline.lock" in text, text
    assert "s" in read_lock(project / "loopline.lock")
    assert run_cli("status").stdout.strip() == "Data and pipelines are up to date."
    again = run_cli("repro")
    assert again.exit_code == 0 and "didn't change" in again.stdout, again.output


def test_outputs_left_by_a_killed_repro_are_not_called_a_hand_edit(project: Path) -> None:
    make_tree(project, {"dvc.yaml": MANY_THEN_WAIT.format(tag="", count=3, sleep=0)})
    assert run_cli("repro").exit_code == 0
    (project / "written").unlink()
    # the command changes, repro is killed while it runs, and the orphaned command goes on
    # writing after repro is gone
    slow = MANY_THEN_WAIT.format(tag="-new", count=3, sleep=1).replace(
        "time.sleep(1)", "time.sleep(1); (d / 'late').write_text('x')"
    )
    make_tree(project, {"dvc.yaml": slow})
    proc = _start_repro(project)
    _wait_for(project / "written", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while not (project / "out" / "late").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    status = run_cli("status")
    assert "the last run of stage 's' was killed before it finished" in status.stdout
    assert "`loopline repro --force -s s`" in status.stdout and "commit" not in status.stdout
    refused = run_cli("repro")
    assert refused.exit_code == 4, refused.output
    assert "is what the stage's last run left behind (that run was killed" in refused.stderr
    assert "commit" not in refused.stderr and "repro --force -s s" in refused.stderr
    committed = run_cli("commit", "s")  # it would record leftovers as the stage's result
    assert committed.exit_code == 4, committed.output
    assert "its last run was killed before it finished" in committed.stderr
    assert "`loopline repro --force -s s`" in committed.stderr
    forced = run_cli("repro", "--force", "-s", "s")
    assert forced.exit_code == 0, forced.output
    assert run_cli("status").stdout.strip() == "Data and pipelines are up to date."


def test_ctrl_c_stops_a_command_that_ignores_sigterm_and_its_children(project: Path) -> None:
    make_tree(
        project,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: trap '' TERM; echo half > o.txt;"
            " (sleep 60; echo late > late.txt) & sleep 60\n    outs: [o.txt]\n"
        },
    )
    proc = _start_repro(project)
    _wait_for(project / "o.txt", proc)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - started < 15
    assert b"stage 's' was stopped (half-written o.txt removed)" in stderr
    assert not (project / "o.txt").exists()
