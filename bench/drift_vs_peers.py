"""Benchmark Loopline's drift report against Evidently and a plain per-column SciPy loop.

Run from the repository root:

    .venv/bin/python bench/drift_vs_peers.py                       # 10k, 100k and 1M rows
    .venv/bin/python bench/drift_vs_peers.py --sizes 10000 100000  # smaller runs only
    .venv/bin/python bench/drift_vs_peers.py --evidently /path/to/venv/bin/python

Data: a reference and a current table of N rows x 25 columns (20 float64 columns, 5 string
columns with 4 to 40 levels; the current table shifts 6 numeric and 2 categorical columns), as
Parquet, generated once under ``bench/.work/drift``.

Tools, each a fresh process reading both Parquet files and producing the full report as JSON:

- loopline: ``loopline monitor drift --reference R --current C --json`` (default tests: above
  1000 reference rows, normed Wasserstein for numbers and Jensen-Shannon for categories);
- scipy loop: the same tests column by column with ``scipy.stats.wasserstein_distance`` and
  ``scipy.spatial.distance.jensenshannon`` on pandas value counts;
- evidently: ``Report([DataDriftPreset()])`` (Evidently 0.7) in its own virtualenv, found with
  ``--evidently PYTHON`` or ``LOOPLINE_BENCH_EVIDENTLY``; skipped (and said so) when absent.
  Evidently needs ``pandas<3``: ``python -m uv venv V && uv pip install "evidently==0.7.*"
  "pandas<3"`` (with ``VIRTUAL_ENV=V``).

Also ``loopline monitor report`` on a served model's inference log of N rows (reference: the
file), which adds reading the log, the window filter and saving the report.

Time is wall-clock seconds of the whole process; memory is its peak resident set size
(``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper whose only child is the tool).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "drift"
PYTHON = sys.executable
LOOPLINE = str(Path(PYTHON).parent / "loopline")

_WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
elapsed = time.perf_counter() - started
if done.returncode:
    sys.stderr.write(done.stderr[-3000:])
    sys.exit(done.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""

_SCIPY_LOOP = """
import json, sys
import numpy as np, pyarrow.parquet as pq
from scipy.stats import wasserstein_distance
from scipy.spatial.distance import jensenshannon
ref = pq.read_table(sys.argv[1]).to_pandas()
cur = pq.read_table(sys.argv[2]).to_pandas()
out = {}
for name in ref.columns:
    r, c = ref[name].dropna(), cur[name].dropna()
    if r.dtype.kind == "f":
        value = wasserstein_distance(r, c) / max(np.std(r), 0.001)
    else:
        rc, cc = r.value_counts(), c.value_counts()
        levels = rc.index.union(cc.index)
        p = rc.reindex(levels, fill_value=0).to_numpy() / len(r)
        q = cc.reindex(levels, fill_value=0).to_numpy() / len(c)
        value = jensenshannon(p, q)
    out[name] = {"statistic": float(value), "drifted": bool(value >= 0.1)}
json.dump(out, sys.stdout)
"""

_EVIDENTLY = """
import sys
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
numeric = [c for c in ref.columns if ref[c].dtype.kind == "f"]
categorical = [c for c in ref.columns if c not in numeric]
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
sys.stdout.write(snapshot.json())
"""


def make_tables(rows: int) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = WORK / str(rows)
    ref_path, cur_path = folder / "reference.parquet", folder / "current.parquet"
    if ref_path.is_file() and cur_path.is_file():
        return ref_path, cur_path
    folder.mkdir(parents=True, exist_ok=True)
    for path, seed, shifted in ((ref_path, 1, False), (cur_path, 2, True)):
        rng = np.random.default_rng(seed)
        columns: dict[str, Any] = {}
        for i in range(20):
            shift = 0.3 if shifted and i < 6 else 0.0
            columns[f"num_{i:02d}"] = rng.normal(10 * i + shift * (i + 1), i + 1, rows)
        for i in range(5):
            levels = np.array([f"level_{k}" for k in range(4 + 9 * i)])
            weights = np.linspace(1, 2 if shifted and i < 2 else 1.05, levels.size)
            columns[f"cat_{i}"] = pa.array(rng.choice(levels, rows, p=weights / weights.sum()))
        pq.write_table(pa.table(columns), path)
    return ref_path, cur_path


def make_inference_log(rows: int, current: Path) -> Path:
    """The current table as a served model's inference log (one segment, one version)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = WORK / str(rows) / "serving"
    segment = root / "inference" / "bench" / "2026-01-01" / "000000-0-0.parquet"
    if segment.is_file():
        return root
    segment.parent.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(current)
    now = int(1e6 * __import__("time").time())
    log = pa.table(
        {
            "request_id": pa.array([f"r{i // 100}" for i in range(rows)]),
            "row": pa.array(np.arange(rows) % 100, pa.int32()),
            "timestamp": pa.array(np.full(rows, now - 60_000_000), pa.timestamp("us", tz="UTC")),
            "model_name": pa.array(["bench"] * rows),
            "model_version": pa.array(["1"] * rows),
            **{name: table.column(name) for name in table.column_names},
            "prediction": pa.array(np.zeros(rows)),
        }
    )
    pq.write_table(log, segment)
    return root


def measure(command: list[str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one run of ``command``."""
    done = subprocess.run(
        [PYTHON, "-c", _WRAPPER, *command], capture_output=True, text=True, cwd=cwd, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr.strip()[-2000:]}")
    seconds, cpu, rss_kib = done.stdout.split()
    return float(seconds), float(cpu), int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--evidently", default=os.environ.get("LOOPLINE_BENCH_EVIDENTLY"))
    parser.add_argument(
        "--peer-max-rows",
        type=int,
        default=1_000_000,
        help="Run Evidently only up to this many rows (it takes minutes at 1M).",
    )
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()
    evidently = args.evidently if args.evidently and Path(args.evidently).exists() else None
    if evidently is None:
        print(
            "evidently: skipped (give --evidently PYTHON or set LOOPLINE_BENCH_EVIDENTLY to a "
            "virtualenv's python with evidently 0.7 installed)",
            file=sys.stderr,
        )
    results: list[dict[str, Any]] = []
    for rows in args.sizes:
        ref, cur = make_tables(rows)
        log_root = make_inference_log(rows, cur)
        tools: dict[str, list[str]] = {
            "loopline": [LOOPLINE, "monitor", "drift", "--reference", str(ref), "--current",
                         str(cur), "--json"],
            "scipy loop": [PYTHON, "-c", _SCIPY_LOOP, str(ref), str(cur)],
        }  # fmt: skip
        if evidently and rows <= args.peer_max_rows:
            tools["evidently"] = [evidently, "-c", _EVIDENTLY, str(ref), str(cur)]
        row: dict[str, Any] = {"rows": rows}
        for name, command in tools.items():
            row[name] = measure(command)
            _progress(rows, name, row[name])
        scratch = Path(tempfile.mkdtemp(prefix="drift-bench-"))
        try:
            row["loopline monitor report"] = measure(
                [LOOPLINE, "monitor", "report", "bench", "--reference", str(ref), "--log-dir",
                 str(log_root), "--json"],
                cwd=scratch,
            )  # fmt: skip
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        _progress(rows, "monitor report", row["loopline monitor report"])
        results.append(row)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("\n| rows | loopline | scipy loop | evidently | loopline monitor report |")
    print("|---:|---:|---:|---:|---:|")
    for row in results:
        print("| " + " | ".join([f"{row['rows']:,}"] + [_cell(row, t) for t in (
            "loopline", "scipy loop", "evidently", "loopline monitor report")]) + " |")  # fmt: skip
    print("\nratios against loopline (wall time, CPU time, peak memory):")
    for row in results:
        base_s, base_c, base_m = row["loopline"]
        for peer in ("scipy loop", "evidently"):
            if peer in row:
                seconds, cpu, mib = row[peer]
                print(
                    f"  {row['rows']:>9,} rows: {peer} takes {seconds / base_s:5.1f}x the time "
                    f"({cpu / base_c:5.1f}x the CPU), {mib / base_m:4.1f}x the memory"
                )


def _progress(rows: int, name: str, result: tuple[float, float, float]) -> None:
    seconds, cpu, mib = result
    print(f"{rows:>9,} rows  {name:<15} {seconds:8.2f} s wall {cpu:8.2f} s CPU {mib:7.0f} MiB",
          file=sys.stderr, flush=True)  # fmt: skip


def _cell(row: dict[str, Any], tool: str) -> str:
    if tool not in row:
        return "skipped"
    seconds, cpu, mib = row[tool]
    return f"{seconds:.2f} s ({cpu:.2f} s CPU), {mib:.0f} MiB"


if __name__ == "__main__":
    main()
