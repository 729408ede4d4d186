"""The shell script a Kubeflow task runs for one stage: pull its inputs, run it, push its outs.

The container contract. The image holds the project (its working directory is the project
root, with ``.loopline/config.yaml`` and the stage's code) and an installed ``loopline``. The
task runs ``sh -c SCRIPT`` with positional arguments: the remote URL, then the pointer files
handed over by upstream tasks, then the files where this task writes its own outs' pointers::

    set -e
    loopline init -q .                        # a fresh checkout has no object cache yet
    loopline remote add kfp URL --default ...  # only when the remote URL is not empty
    rm -f loopline.lock                       # the checkout's lock names outs of older runs
    (write each handed-over pointer file, e.g. data/features.loopline)
    loopline pull                             # every pointer file: tracked data + handed over
    (cd WDIR; cmd1; cmd2)                     # stops at the first failing command
    loopline add --stage-outputs OUT...       # store the outs, write OUT.loopline
    loopline push OUT...
    (copy each OUT.loopline to its output parameter, for the downstream tasks)

Stage outs are tracked by the pipeline lock on a developer's machine; inside the cluster each
task starts from the image, so the outs travel between tasks as pointer files (small text) in
task parameters, and their bytes through the remote. The lock in the image is removed first:
``pull`` and ``push`` would otherwise use the outs it records (of an older run, maybe never
pushed) instead of the handed-over pointers.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from loopline.pipeline._model import LOCK_NAME

__all__ = ["REMOTE_NAME", "REMOTE_PARAMETER", "Handover", "stage_script"]

POINTER_SUFFIX = ".loopline"  # as in loopline.data.pointer, without importing the data verbs
REMOTE_PARAMETER = "remote_url"
REMOTE_NAME = "kfp"


@dataclass(frozen=True)
class Handover:
    """One stage out whose pointer file travels between tasks in the parameter ``parameter``."""

    path: str
    parameter: str

    @property
    def pointer_file(self) -> str:
        return self.path + POINTER_SUFFIX


def stage_script(
    name: str,
    commands: Sequence[str],
    wdir: str,
    *,
    inputs: Sequence[Handover],
    outputs: Sequence[Handover],
) -> str:
    """The script; its positional arguments are the remote URL, ``inputs``, then ``outputs``."""
    lines = [f"# Loopline stage {name}: pull inputs, run the command, push outs", "set -e"]
    lines += _arguments([REMOTE_PARAMETER, *(h.parameter for h in (*inputs, *outputs))])
    lines += _configure_remote()
    lines.append(f"rm -f {LOCK_NAME}  # outs travel as pointer files; the lock is the laptop's")
    folders = sorted({posixpath.dirname(h.path) for h in inputs} - {""})
    if folders:
        lines.append("mkdir -p " + " ".join(shlex.quote(f) for f in folders))
    lines += [_write_pointer(handover) for handover in inputs]
    lines.append("loopline pull")
    lines += _run(commands, wdir)
    if outputs:
        outs = " ".join(shlex.quote(h.path) for h in outputs)
        lines += [f"loopline add --stage-outputs {outs}", f"loopline push {outs}"]
    for handover in outputs:
        lines += _hand_over(handover)
    return "\n".join(lines) + "\n"


def _arguments(names: Sequence[str]) -> list[str]:
    return [f'{variable}="${{{index}}}"' for index, variable in enumerate(names, start=1)]


def _configure_remote() -> list[str]:
    return [
        "loopline init -q .",
        f'if [ -n "${REMOTE_PARAMETER}" ]; then',
        f'  loopline remote add {REMOTE_NAME} "${REMOTE_PARAMETER}" --default --force --local',
        "fi",
    ]


def _write_pointer(handover: Handover) -> str:
    target = shlex.quote(handover.pointer_file)
    return f"printf '%s\\n' \"${handover.parameter}\" > {target}"


def _run(commands: Sequence[str], wdir: str) -> list[str]:
    body = [f"cd {shlex.quote(wdir)}"] if wdir not in ("", ".") else []
    return ["(", *body, *commands, ")"]  # not indented: a command may hold a here-document


def _hand_over(handover: Handover) -> list[str]:
    variable = f'"${handover.parameter}"'
    return [
        f'mkdir -p "$(dirname {variable})"',
        f"cp {shlex.quote(handover.pointer_file)} {variable}",
    ]
