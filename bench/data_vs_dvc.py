"""Benchmark Loopline's data versioning against DVC on the same data, side by side.

Run from the repository root:

    .venv/bin/python bench/data_vs_dvc.py            # full: 1 GiB file + 20,000 files of 5 KiB
    .venv/bin/python bench/data_vs_dvc.py --quick    # smoke run: 128 MiB file + 2,000 files
    .venv/bin/python bench/data_vs_dvc.py --json     # print the results as JSON on stdout

DVC is installed into its own virtualenv, ``bench/.venvs/dvc`` (made with ``uv`` on the first
run, ``python -m venv`` + pip if uv is missing), never into the project's ``.venv``. The test
data is generated deterministically under ``bench/.work/data`` and reused by later runs; the
project folders made for the measurements are deleted at the end.

Times are wall-clock seconds of whole CLI invocations (``subprocess.run``), medians of several
runs. The page cache is NOT dropped, so both tools are measured with a warm cache. Each cold
``add`` runs in a fresh project (fresh cache and state database) with freshly copied data; DVC
runs with analytics off (``DVC_NO_ANALYTICS=1``) and its site cache dir (where its state db
lives, normally ``/var/tmp/dvc``) redirected into ``bench/.work`` and wiped before each cold
``add``. Both tools keep their default ``cache.type`` (``reflink,copy``).

Both tools run from compiled bytecode, as after a normal install: ``PYTHONDONTWRITEBYTECODE`` is
dropped and ``PYTHONPYCACHEPREFIX`` points at ``bench/.work/pycache`` (kept between runs, so
neither virtualenv is written to), and a small warm-up workflow runs before measuring.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _processes import CommandFailed, log, run_checked
from _targets import Target  # bench/ is the script's own folder, so it imports

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
DATA = WORK / "data"
PROJECTS = WORK / "projects"
SCRATCH = WORK / "scratch"
DVC_SITE_CACHE = WORK / "dvc-site-cache"
PYCACHE = WORK / "pycache"
DVC_VENV = BENCH / ".venvs" / "dvc"
PYTHON = REPO / ".venv" / "bin" / "python"
LOOPLINE = REPO / ".venv" / "bin" / "loopline"

MIB = 1 << 20
CHUNK = 8 * MIB
BIG_NAME = "big.bin"
TREE_NAME = "files"
STATUS_RUNS = 5
CHECKOUT_RUNS = 3
VERSION_RUNS = 10
REFERENCE_RUNS = 3

ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": str(PYCACHE),
    "DVC_NO_ANALYTICS": "1",
    "DVC_SITE_CACHE_DIR": str(DVC_SITE_CACHE),
    "GIT_TERMINAL_PROMPT": "0",
}

BLAKE3_SNIPPET = """\
import sys, time
from blake3 import blake3
t = time.perf_counter()
blake3(max_threads=blake3.AUTO).update_mmap(sys.argv[1])
print(time.perf_counter() - t)
"""

MD5_SNIPPET = """\
import hashlib, sys, time
t = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    hashlib.file_digest(f, "md5")
print(time.perf_counter() - t)
"""


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    big_bytes: int
    nfiles: int
    file_bytes: int
    ndirs: int
    add_runs: int

    @property
    def big_label(self) -> str:
        if self.big_bytes % (1024 * MIB) == 0:
            return f"{self.big_bytes // (1024 * MIB)} GiB"
        return f"{self.big_bytes // MIB} MiB"


FULL = Scale(big_bytes=1024 * MIB, nfiles=20_000, file_bytes=5 * 1024, ndirs=100, add_runs=3)
QUICK = Scale(big_bytes=128 * MIB, nfiles=2_000, file_bytes=5 * 1024, ndirs=100, add_runs=1)


@dataclass(frozen=True)
class Tool:
    name: str
    exe: Path
    suffix: str
    init: tuple[tuple[str, ...], ...]

    def cmd(self, *args: str) -> list[str]:
        return [str(self.exe), *args]


# (key, label, target); labels may use {big} and {nfiles}.
OPERATIONS: list[tuple[str, str, Target | None]] = [
    ("add_file", "add {big} file (cold)", Target(min_ratio=2)),
    ("add_dir", "add {nfiles:,} files (cold)", Target(min_ratio=2)),
    ("status_first", "status no-op, first run after add", None),
    ("status", f"status no-op (median of {STATUS_RUNS})", Target(min_ratio=5, max_seconds=0.3)),
    ("checkout", f"checkout folder after rm -rf (median of {CHECKOUT_RUNS})", Target(min_ratio=5)),
    ("version", f"--version (median of {VERSION_RUNS})", Target(max_seconds=0.15)),
]


# -- processes and files -------------------------------------------------------------------


def run(cmd: Sequence[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return run_checked(cmd, cwd, ENV)


def timed(cmd: Sequence[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise CommandFailed(cmd, proc)
    return elapsed, proc


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_chmod_and_retry)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _chmod_and_retry(func: Callable[[str], object], path: str, _exc: object) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o755)
    func(path)


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


# -- set-up ----------------------------------------------------------------------------------


def ensure_dvc() -> Path:
    dvc = DVC_VENV / "bin" / "dvc"
    if dvc.is_file():
        return dvc
    log(f"installing dvc into {DVC_VENV.relative_to(REPO)} ...")
    if not _install_dvc_with_uv():
        _install_dvc_with_pip()
    return dvc


def _install_dvc_with_uv() -> bool:
    uv = shutil.which("uv")
    if uv is None:
        return False
    try:
        run([uv, "venv", "-q", "--allow-existing", str(DVC_VENV)])
        run([uv, "pip", "install", "-q", "--python", str(DVC_VENV / "bin" / "python"), "dvc"])
    except CommandFailed as exc:
        log(f"uv failed, falling back to venv + pip: {exc}")
        return False
    return True


def _install_dvc_with_pip() -> None:
    run([sys.executable, "-m", "venv", str(DVC_VENV)])
    run([str(DVC_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "dvc"])


def ensure_big_file(scale: Scale) -> Path:
    path = DATA / f"big-{scale.big_bytes // MIB}MiB.bin"
    if path.is_file() and path.stat().st_size == scale.big_bytes:
        return path
    log(f"generating {path.relative_to(REPO)} ...")
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20_240_101)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as f:
        remaining = scale.big_bytes
        while remaining:
            n = min(CHUNK, remaining)
            f.write(rng.randbytes(n))
            remaining -= n
    partial.replace(path)
    return path


def ensure_tree(scale: Scale) -> Path:
    path = DATA / f"tree-{scale.nfiles}x{scale.file_bytes}B"
    marker = path.with_name(path.name + ".complete")
    if marker.is_file() and path.is_dir():
        return path
    log(f"generating {path.relative_to(REPO)} ...")
    remove(path)
    rng = random.Random(scale.nfiles)
    dirs = [path / f"d{i:03d}" for i in range(scale.ndirs)]
    for d in dirs:
        d.mkdir(parents=True)
    for i in range(scale.nfiles):
        (dirs[i % scale.ndirs] / f"f{i:05d}.bin").write_bytes(rng.randbytes(scale.file_bytes))
    marker.write_text(f"{scale.nfiles} files of {scale.file_bytes} bytes\n")
    return path


def make_tools(dvc_exe: Path) -> list[Tool]:
    dvc = Tool("dvc", dvc_exe, ".dvc", (("init", "-q"), ("config", "core.autostage", "false")))
    loopline = Tool("loopline", LOOPLINE, ".loopline", (("init", "-q"),))
    return [dvc, loopline]


def new_project(tool: Tool, big: Path, tree: Path) -> Path:
    """A fresh git + tool project holding copies of the data, with dirty pages flushed."""
    proj = PROJECTS / tool.name
    remove(proj)
    remove(DVC_SITE_CACHE)
    proj.mkdir(parents=True)
    run(["git", "init", "-q"], proj)
    for args in tool.init:
        run(tool.cmd(*args), proj)
    run(["cp", str(big), BIG_NAME], proj)
    run(["cp", "-R", str(tree), TREE_NAME], proj)
    os.sync()
    return proj


def warm_up(tools: list[Tool]) -> None:
    """Run every measured command once on tiny data, so its bytecode is compiled and cached."""
    log("[warm-up] compiling bytecode of both tools")
    tiny = SCRATCH / "tiny"
    remove(tiny)
    (tiny / "d").mkdir(parents=True)
    (tiny / "f.bin").write_bytes(b"x" * 1000)
    (tiny / "d" / "g.bin").write_bytes(b"y" * 1000)
    for tool in tools:
        proj = new_project(tool, tiny / "f.bin", tiny / "d")
        for args in (("add", BIG_NAME), ("add", TREE_NAME), ("status", BIG_NAME, TREE_NAME)):
            run(tool.cmd(*args), proj)
        remove(proj / TREE_NAME)
        run(tool.cmd("checkout", TREE_NAME), proj)
        run(tool.cmd("--version"), proj)
        remove(proj)
    remove(tiny)


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Recorder:
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def time(
        self, op: str, tool: Tool, args: Sequence[str], cwd: Path
    ) -> subprocess.CompletedProcess[str] | None:
        try:
            seconds, proc = timed(tool.cmd(*args), cwd)
        except CommandFailed as exc:
            self.anomaly(f"{op} / {tool.name}: {exc}")
            return None
        self.samples.setdefault(op, {}).setdefault(tool.name, []).append(seconds)
        return proc

    def anomaly(self, message: str) -> None:
        log(f"!! {message}")
        self.errors.append(message)

    def median(self, op: str, tool: str) -> float | None:
        values = self.samples.get(op, {}).get(tool)
        return statistics.median(values) if values else None


def bench_adds(tools: list[Tool], scale: Scale, big: Path, tree: Path, rec: Recorder) -> None:
    """Cold adds, interleaving the tools; the last project of each tool is kept for later."""
    for i in range(scale.add_runs):
        for tool in tools:
            log(f"[add {i + 1}/{scale.add_runs}] {tool.name}")
            proj = new_project(tool, big, tree)
            for op, name in (("add_file", BIG_NAME), ("add_dir", TREE_NAME)):
                if rec.time(op, tool, ("add", name), proj) is None:
                    continue
                if not (proj / (name + tool.suffix)).is_file():
                    rec.anomaly(f"{op} / {tool.name}: no pointer file {name}{tool.suffix}")


def tracked_project(tool: Tool, op: str, rec: Recorder) -> Path | None:
    """The project kept from the adds, if both adds left their pointer files."""
    proj = PROJECTS / tool.name
    if all((proj / (name + tool.suffix)).is_file() for name in (BIG_NAME, TREE_NAME)):
        return proj
    rec.anomaly(f"{op} / {tool.name}: skipped, the adds did not leave both pointer files")
    return None


def bench_status(tool: Tool, rec: Recorder) -> None:
    log(f"[status] {tool.name}")
    proj = tracked_project(tool, "status", rec)
    if proj is None:
        return
    args = ("status", BIG_NAME, TREE_NAME)
    proc = rec.time("status_first", tool, args, proj)
    if proc is not None and "up to date" not in proc.stdout:
        rec.anomaly(f"status / {tool.name}: not a no-op: {proc.stdout.strip()[:500]}")
    for _ in range(STATUS_RUNS):
        rec.time("status", tool, args, proj)


def bench_checkout(tool: Tool, scale: Scale, rec: Recorder) -> None:
    log(f"[checkout] {tool.name}")
    proj = tracked_project(tool, "checkout", rec)
    if proj is None:
        return
    for _ in range(CHECKOUT_RUNS):
        remove(proj / TREE_NAME)
        os.sync()
        if rec.time("checkout", tool, ("checkout", TREE_NAME), proj) is None:
            continue
        found = count_files(proj / TREE_NAME)
        if found != scale.nfiles:
            rec.anomaly(f"checkout / {tool.name}: {found} files, expected {scale.nfiles}")


def bench_version(tool: Tool, rec: Recorder) -> None:
    log(f"[--version] {tool.name}")
    run(tool.cmd("--version"), WORK)  # warm-up, not counted
    for _ in range(VERSION_RUNS):
        rec.time("version", tool, ("--version",), WORK)


def bench_references(big: Path, tree: Path) -> dict[str, float]:
    """Floors: hashing, copying and reading the big file alone; copying the folder alone."""
    log("[references] blake3, md5, cp, cat, cp -R")
    SCRATCH.mkdir(parents=True, exist_ok=True)

    def snippet(code: str) -> Callable[[], float]:
        return lambda: float(run([str(PYTHON), "-c", code, str(big)]).stdout)

    def copy(src: Path, *flags: str) -> Callable[[], float]:
        dst = SCRATCH / src.name

        def measure() -> float:
            remove(dst)
            os.sync()
            return timed(["cp", *flags, str(src), str(dst)], WORK)[0]

        return measure

    def cat() -> float:
        return timed(["sh", "-c", 'cat "$1" > /dev/null', "sh", str(big)], WORK)[0]

    measures = {
        "blake3": snippet(BLAKE3_SNIPPET),
        "md5": snippet(MD5_SNIPPET),
        "cp": copy(big),
        "cat": cat,
        "cp_tree": copy(tree, "-R"),
    }
    return {
        name: statistics.median([f() for _ in range(REFERENCE_RUNS)])
        for name, f in measures.items()
    }


# -- report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    operation: str
    dvc_s: float | None
    loopline_s: float | None
    ratio: float | None
    target: str
    result: str


def build_rows(rec: Recorder, scale: Scale) -> list[Row]:
    rows = []
    for key, label, target in OPERATIONS:
        dvc, loopline = rec.median(key, "dvc"), rec.median(key, "loopline")
        ratio = dvc / loopline if dvc is not None and loopline else None
        rows.append(
            Row(
                key=key,
                operation=label.format(big=scale.big_label, nfiles=scale.nfiles),
                dvc_s=dvc,
                loopline_s=loopline,
                ratio=ratio,
                target=target.describe() if target else "",
                result=target.verdict(dvc, loopline) if target else "",
            )
        )
    return rows


def reference_notes(rec: Recorder, refs: dict[str, float], scale: Scale) -> list[str]:
    big = f"{scale.big_label} file"
    notes = [
        f"{name:<42}{refs[key]:8.3f} s  ({scale.big_bytes / MIB / refs[key]:6.0f} MiB/s)"
        for key, name in (
            ("blake3", f"BLAKE3 of the {big} (AUTO threads)"),
            ("md5", f"md5 of the {big} (hashlib)"),
            ("cp", f"cp of the {big}"),
            ("cat", f"cat {big} > /dev/null"),
        )
    ]
    notes.append(f"{f'cp -R of the {scale.nfiles:,} files':<42}{refs['cp_tree']:8.3f} s")
    return notes + _limit_notes(rec, refs, scale)


def _limit_notes(rec: Recorder, refs: dict[str, float], scale: Scale) -> list[str]:
    notes = []
    add, dvc_add = rec.median("add_file", "loopline"), rec.median("add_file", "dvc")
    if add:
        floor = refs["blake3"] + refs["cp"]
        notes.append(
            f"loopline add {scale.big_label} is {100 * refs['blake3'] / add:.0f}% of the way to "
            f"the hashing limit (BLAKE3 {refs['blake3']:.3f} s / add {add:.3f} s); "
            f"hash + cp = {floor:.3f} s is {100 * floor / add:.0f}% of it"
        )
    if dvc_add:
        notes.append(
            f"dvc add {scale.big_label}: md5 alone is {100 * refs['md5'] / dvc_add:.0f}% of it "
            f"(md5 {refs['md5']:.3f} s / add {dvc_add:.3f} s)"
        )
    checkout = rec.median("checkout", "loopline")
    if checkout:
        notes.append(
            f"loopline checkout of the folder takes {checkout / refs['cp_tree']:.2f}x the time "
            f"of `cp -R` ({checkout:.3f} s vs {refs['cp_tree']:.3f} s)"
        )
    return notes


def _fmt_seconds(value: float | None) -> str:
    return "error" if value is None else f"{value:.3f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _align(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    first = row[0].ljust(widths[0])
    return [first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]


def format_table(rows: list[Row]) -> str:
    header = ("operation", "dvc s", "loopline s", "dvc/loopline", "target", "result")
    cells = [header] + [
        (
            r.operation,
            _fmt_seconds(r.dvc_s),
            _fmt_seconds(r.loopline_s),
            _fmt_ratio(r.ratio),
            r.target,
            r.result,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [" | ".join(_align(row, widths)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def print_text(report: dict[str, Any], rows: list[Row], notes: list[str]) -> None:
    print(
        f"\nLoopline {report['loopline_version']} ({report['loopline_commit']}) "
        f"vs DVC {report['dvc_version']}  "
        f"({report['cpus']} CPUs, {report['scale']['big_label']} file, "
        f"{report['scale']['nfiles']:,} files x {report['scale']['file_bytes']} B)"
    )
    load = report["load_avg_1min"]
    print("Wall-clock seconds of whole CLI runs, medians; page cache WARM (not dropped).")
    print(f"1-min load average: {load['start']:.2f} at start, {load['end']:.2f} at end.")
    print(f"Cold adds: fresh project per run, median of {report['scale']['add_runs']}.\n")
    print(format_table(rows))
    print(f"\nReferences (same data, warm cache, median of {REFERENCE_RUNS}):")
    for note in notes:
        print(f"  {note}")
    if report["errors"]:
        print("\nAnomalies:")
        for error in report["errors"]:
            print(f"  - {error}")


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB file and 2,000 files")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--add-runs", type=int, help="cold add repetitions (default 3, quick 1)")
    return parser.parse_args(argv)


def measure(tools: list[Tool], scale: Scale) -> tuple[Recorder, dict[str, float]]:
    big, tree = ensure_big_file(scale), ensure_tree(scale)
    rec = Recorder()
    try:
        warm_up(tools)
        bench_adds(tools, scale, big, tree, rec)
        for tool in tools:
            bench_status(tool, rec)
        for tool in tools:
            bench_checkout(tool, scale, rec)
        for tool in tools:
            bench_version(tool, rec)
        refs = bench_references(big, tree)
    finally:
        for path in (PROJECTS, SCRATCH, DVC_SITE_CACHE):
            remove(path)
    return rec, refs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.add_runs:
        scale = Scale(**{**asdict(scale), "add_runs": args.add_runs})
    tools = make_tools(ensure_dvc())
    versions = {t.name: run(t.cmd("--version")).stdout.strip().split()[-1] for t in tools}
    commit = run(["git", "describe", "--always", "--dirty"]).stdout.strip()
    load_before = os.getloadavg()[0]
    rec, refs = measure(tools, scale)
    rows = build_rows(rec, scale)
    report: dict[str, Any] = {
        "dvc_version": versions["dvc"],
        "loopline_version": versions["loopline"],
        "loopline_commit": commit,
        "cpus": os.cpu_count(),
        "page_cache": "warm",
        "load_avg_1min": {"start": load_before, "end": os.getloadavg()[0]},
        "scale": {**asdict(scale), "big_label": scale.big_label},
        "operations": [asdict(r) for r in rows],
        "references_s": refs,
        "samples_s": rec.samples,
        "errors": rec.errors,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report, rows, reference_notes(rec, refs, scale))
    return 1 if rec.errors else 0


if __name__ == "__main__":
    sys.exit(main())
