"""Benchmark Loopline's pipelines against DVC on the same 3-stage pipeline, side by side.

Run from the repository root:

    .venv/bin/python bench/pipeline_vs_dvc.py           # medians of 5 (no-op, status), 3 (rest)
    .venv/bin/python bench/pipeline_vs_dvc.py --json    # print the results as JSON on stdout

DVC (``dvc==3.67.1``) lives in its own virtualenv, ``bench/.venvs/dvc`` (made with ``uv`` on
the first run, as in ``data_vs_dvc.py``), never in the project's ``.venv``. Each tool gets a
fresh git project holding the same ``dvc.yaml`` (Loopline reads DVC's format), ``params.yaml``
and input file under ``bench/.work/pipelines``; the folders are deleted at the end.

Measured, as wall-clock seconds of whole CLI runs:

* first ``repro`` (fresh project, all three stages run),
* no-op ``repro`` (nothing changed),
* ``repro`` after changing a param that only the last stage uses (one stage runs; a new value
  each time, so neither tool's run cache can answer),
* ``status`` with nothing changed.

Loopline records every stage execution as a tracked run; DVC records nothing comparable.

Cost per stage: the first ``repro`` of a chain of 10 ``cp`` stages and of a single such stage
(fresh projects, median of 3); ``(T10 - T1) / 9`` minus one ``cp`` run alone is what each
extra stage costs beyond its command (hashing, storing outs, the lock, the tracked run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _processes import log, run_checked
from _targets import Target  # bench/ is the script's own folder, so it imports

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
PROJECTS = WORK / "pipelines"
PYCACHE = WORK / "pycache"
DVC_VENV = BENCH / ".venvs" / "dvc"
DVC_VERSION = "3.67.1"
LOOPLINE = REPO / ".venv" / "bin" / "loopline"
FIRST_RUNS = 3
NOOP_RUNS = 5
CHANGE_RUNS = 3
STATUS_RUNS = 5

ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": str(PYCACHE),
    "DVC_NO_ANALYTICS": "1",
    "DVC_SITE_CACHE_DIR": str(WORK / "dvc-site-cache"),
    "GIT_TERMINAL_PROMPT": "0",
}

PIPELINE = """\
stages:
  prepare:
    cmd: tr a-z A-Z < data.txt > clean.txt
    deps: [data.txt]
    outs: [clean.txt]
  featurize:
    cmd: sort clean.txt > features.txt
    deps: [clean.txt]
    params: [featurize.max]
    outs: [features.txt]
  train:
    cmd: cat features.txt params.yaml > model.txt && echo rows=2000 > metrics.txt
    deps: [features.txt]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.txt:
          cache: false
"""

# (key, label, target)
OPERATIONS: list[tuple[str, str, Target | None]] = [
    ("first", f"first repro, 3 stages (median of {FIRST_RUNS})", None),
    ("noop", f"no-op repro (median of {NOOP_RUNS})", Target(min_ratio=5, max_seconds=0.19)),
    ("param", f"repro after a param change (median of {CHANGE_RUNS})", None),
    (
        "status",
        f"status, nothing changed (median of {STATUS_RUNS})",
        Target(min_ratio=5, max_seconds=0.19),
    ),
]
STAGE_TARGET = Target(max_seconds=0.05)


@dataclass(frozen=True)
class Tool:
    name: str
    exe: Path
    init: tuple[tuple[str, ...], ...]

    def cmd(self, *args: str) -> list[str]:
        return [str(self.exe), *args]


def run(cmd: Sequence[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_checked(cmd, cwd, ENV)


def timed(cmd: Sequence[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = run(cmd, cwd)
    return time.perf_counter() - start, proc.stdout


def ensure_dvc() -> Path:
    dvc = DVC_VENV / "bin" / "dvc"
    if dvc.is_file():
        return dvc
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    log(f"installing dvc=={DVC_VERSION} into {DVC_VENV.relative_to(REPO)} ...")
    run([uv, "venv", "-q", "--allow-existing", str(DVC_VENV)])
    run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(DVC_VENV / "bin" / "python"),
            f"dvc=={DVC_VERSION}",
        ]
    )
    return dvc


def new_project(tool: Tool) -> Path:
    proj = PROJECTS / tool.name
    shutil.rmtree(proj, ignore_errors=True)
    proj.mkdir(parents=True)
    run(["git", "init", "-q"], proj)
    for args in tool.init:
        run(tool.cmd(*args), proj)
    (proj / "dvc.yaml").write_text(PIPELINE)
    write_params(proj, 0)
    lines = [f"line {i:05d} of the input, some words to sort\n" for i in range(2000, 0, -1)]
    (proj / "data.txt").write_text("".join(lines))
    return proj


def write_params(proj: Path, step: int) -> None:
    (proj / "params.yaml").write_text(
        f"featurize:\n  max: 100\ntrain:\n  lr: {0.01 * (step + 1):.2f}\n"
    )


@dataclass
class Recorder:
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, op: str, tool: str, seconds: float) -> None:
        self.samples.setdefault(op, {}).setdefault(tool, []).append(seconds)

    def median(self, op: str, tool: str) -> float | None:
        values = self.samples.get(op, {}).get(tool)
        return statistics.median(values) if values else None


def bench_tools(tools: Sequence[Tool], rec: Recorder) -> None:
    """All four operations, the tools interleaved so that a change in machine load hits both."""
    for i in range(FIRST_RUNS):
        for tool in tools:
            log(f"[first repro {i + 1}/{FIRST_RUNS}] {tool.name}")
            proj = new_project(tool)
            seconds, out = timed(tool.cmd("repro"), proj)
            if not (proj / "model.txt").is_file():
                rec.errors.append(f"first repro / {tool.name}: no model.txt: {out[-300:]}")
            rec.add("first", tool.name, seconds)
    for _ in range(NOOP_RUNS):
        for tool in tools:
            seconds, out = timed(tool.cmd("repro"), PROJECTS / tool.name)
            if "Running stage" in out:
                rec.errors.append(f"no-op repro / {tool.name} ran a stage: {out[-300:]}")
            rec.add("noop", tool.name, seconds)
    for step in range(1, CHANGE_RUNS + 1):
        for tool in tools:
            write_params(PROJECTS / tool.name, step)
            seconds, out = timed(tool.cmd("repro"), PROJECTS / tool.name)
            ran = out.count("Running stage")
            if ran != 1 or "Running stage 'train'" not in out:
                rec.errors.append(f"param change / {tool.name}: expected train only, ran {ran}")
            rec.add("param", tool.name, seconds)
    for _ in range(STATUS_RUNS):
        for tool in tools:
            seconds, out = timed(tool.cmd("status"), PROJECTS / tool.name)
            if "up to date" not in out:
                rec.errors.append(f"status / {tool.name}: not clean: {out[-300:]}")
            rec.add("status", tool.name, seconds)


CHAIN = 10


def chain_project(tool: Tool, stages: int) -> Path:
    proj = new_project(tool)
    lines = ["stages:"]
    for i in range(1, stages + 1):
        lines += [
            f"  s{i}:",
            f"    cmd: cp s{i - 1}.txt s{i}.txt",
            f"    deps: [s{i - 1}.txt]",
            f"    outs: [s{i}.txt]",
        ]
    (proj / "dvc.yaml").write_text("\n".join(lines) + "\n")
    (proj / "s0.txt").write_text("chain\n")
    return proj


def bench_chain(tools: Sequence[Tool], rec: Recorder) -> None:
    for stages in (1, CHAIN):
        for _ in range(FIRST_RUNS):
            for tool in tools:
                log(f"[chain of {stages}] {tool.name}")
                proj = chain_project(tool, stages)
                seconds, _ = timed(tool.cmd("repro"), proj)
                if not (proj / f"s{stages}.txt").is_file():
                    rec.errors.append(f"chain {stages} / {tool.name}: s{stages}.txt not written")
                rec.add(f"chain{stages}", tool.name, seconds)


def command_seconds() -> float:
    """One ``cp`` stage command alone, through the shell (median of 9)."""
    proj = PROJECTS / "cmd"
    proj.mkdir(parents=True, exist_ok=True)
    (proj / "s0.txt").write_text("chain\n")
    return statistics.median(timed(["sh", "-c", "cp s0.txt s1.txt"], proj)[0] for _ in range(9))


@dataclass(frozen=True)
class Row:
    key: str
    operation: str
    dvc_s: float | None
    loopline_s: float | None
    ratio: float | None
    target: str
    result: str


def build_rows(rec: Recorder) -> list[Row]:
    rows = []
    for key, label, target in OPERATIONS:
        dvc, loopline = rec.median(key, "dvc"), rec.median(key, "loopline")
        ratio = dvc / loopline if dvc and loopline else None
        rows.append(
            Row(
                key,
                label,
                dvc,
                loopline,
                ratio,
                target.describe() if target else "",
                target.verdict(dvc, loopline) if target else "",
            )
        )
    return rows


def stage_overhead(rec: Recorder, tool: str, cmd_s: float) -> float | None:
    one, many = rec.median("chain1", tool), rec.median(f"chain{CHAIN}", tool)
    if one is None or many is None:
        return None
    return (many - one) / (CHAIN - 1) - cmd_s


def format_table(rows: list[Row]) -> str:
    def fmt(value: float | None, suffix: str = "") -> str:
        return "-" if value is None else f"{value:.3f}{suffix}"

    header = ("operation", "dvc s", "loopline s", "dvc/loopline", "target", "result")
    cells = [header] + [
        (
            r.operation,
            fmt(r.dvc_s),
            fmt(r.loopline_s),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            r.result,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        " | ".join(
            [
                row[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
            ]
        )
        for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    dvc = Tool("dvc", ensure_dvc(), (("init", "-q"), ("config", "core.autostage", "false")))
    loopline = Tool("loopline", LOOPLINE, (("init", "-q"),))
    versions = {t.name: run(t.cmd("--version")).stdout.strip().split()[-1] for t in (dvc, loopline)}
    commit = run(["git", "describe", "--always", "--dirty"]).stdout.strip()
    rec = Recorder()
    load_before = os.getloadavg()[0]
    try:
        for tool in (dvc, loopline):
            new_project(tool)
            run(tool.cmd("repro"), PROJECTS / tool.name)  # warm-up: bytecode compiled
        bench_tools((dvc, loopline), rec)
        bench_chain((dvc, loopline), rec)
        cmd_s = command_seconds()
    finally:
        shutil.rmtree(PROJECTS, ignore_errors=True)
    rows = build_rows(rec)
    overhead = {t: stage_overhead(rec, t, cmd_s) for t in ("dvc", "loopline")}
    verdict = STAGE_TARGET.verdict(None, overhead["loopline"])
    report: dict[str, Any] = {
        "dvc_version": versions["dvc"],
        "loopline_version": versions["loopline"],
        "loopline_commit": commit,
        "cpus": os.cpu_count(),
        "load_avg_1min": {"start": load_before, "end": os.getloadavg()[0]},
        "operations": [asdict(r) for r in rows],
        "command_s": cmd_s,
        "stage_overhead_s": overhead,
        "stage_overhead_result": verdict,
        "samples_s": rec.samples,
        "errors": rec.errors,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"\nLoopline {versions['loopline']} ({commit}) vs DVC {versions['dvc']}  "
            f"({os.cpu_count()} CPUs; 3-stage pipeline, 2,000-line input)"
        )
        print(
            "Wall-clock seconds of whole CLI runs, medians. Loopline also records each "
            "executed stage as a tracked run."
        )
        print(f"1-min load average: {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end.\n")
        print(format_table(rows))
        print(f"\nFirst repro of a chain of {CHAIN} cp stages / of 1 stage, medians:")
        for name in ("dvc", "loopline"):
            many, one = rec.median(f"chain{CHAIN}", name), rec.median("chain1", name)
            if many is not None and one is not None:
                print(f"  {name:<9}{many:.3f} s / {one:.3f} s")
        print(f"One cp command alone (sh -c): {cmd_s * 1000:.1f} ms")
        for name, value in overhead.items():
            shown = "-" if value is None else f"{value * 1000:.1f} ms"
            print(
                f"{name} cost per extra stage, beyond its command: {shown}"
                + (f"  (target {STAGE_TARGET.describe()}: {verdict})" if name == "loopline" else "")
            )
        if rec.errors:
            print("\nAnomalies:")
            for error in rec.errors:
                print(f"  - {error}")
    return 1 if rec.errors else 0


if __name__ == "__main__":
    sys.exit(main())
