"""Benchmark ``loopline serve`` against mlflow models serve, MLServer and BentoML with wrk.

Run from the repository root:

    .venv/bin/python bench/serving_vs_peers.py                     # 1 and 2 workers, 10 s runs
    .venv/bin/python bench/serving_vs_peers.py --quick             # 1 worker, 1 and 64 conns, 3 s
    .venv/bin/python bench/serving_vs_peers.py --json bench/.work/serving.json --duration 10
    .venv/bin/python bench/serving_vs_peers.py --only loopline,bare \
        --peers-from bench/.work/serving.json --json bench/.work/serving-all.json

Each server serves the same two fitted scikit-learn models (scaler + logistic regression, and a
100-iteration histogram gradient boosting classifier, both trained on a 20-feature synthetic
churn table), one server process tree per model, on 127.0.0.1 and a free port, one at a time.
wrk (``/usr/bin/wrk``, at most 2 threads, ``bench/_serving_post.lua`` for the POST body) loads
each at 1, 16 and 64 connections with single-row and 32-row requests, after a warm-up. Every
server's answer is checked once per request size against the local estimator's ``predict``
before it is loaded; errors are wrk's socket errors (connect, read, write, timeout) plus its
HTTP status errors (status >= 400; the check beforehand makes sure a 2xx, not a redirect,
answers that exact request).

Peers (see ``bench/_serving_peers.py``): mlflow models serve (``-w N``), MLServer (V2, adaptive
batching, ``parallel_workers = N``), BentoML if it installs, and a bare uvicorn endpoint that
returns a constant JSON: the ceiling of the Python HTTP stack here. Peers are installed on first
use into ``bench/.venvs/<peer>`` and measured before Loopline; ``--peers-from FILE`` reuses the
peers' numbers from an earlier ``--json FILE`` instead of measuring them again. Every server
runs with OpenMP/OpenBLAS/MKL pinned to one thread; all servers started are stopped by PID at
the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _serving_models import FittedModel, fit_models, read_predictions, request_body
from _serving_peers import BatchSettings, Launch, Server, SetupFailed, make_servers
from _serving_procs import ServerPool, ServerStartFailed, post_json

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "serving"
LUA = BENCH / "_serving_post.lua"
WRK = "/usr/bin/wrk"
PEERS = ("mlflow", "mlserver", "bentoml")
CEILING = "bare"
STARLETTE = "starlette"
CONSTANT = (CEILING, STARLETTE)  # model-independent: run once per worker count
LOOPLINE = "loopline"

TARGET_PEER_RATIO = 3.0
TARGET_CEILING_SHARE = 0.6
TARGET_P50_VS_MLFLOW = 1 / 3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- one wrk run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    server: str
    request: str  # the row label: v2, invocations, bentoml
    model: str
    rows: int
    connections: int
    workers: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_kinds: dict[str, int]
    requests: int
    seconds: float

    @property
    def label(self) -> str:
        return self.server if self.request in ("v2", "bentoml") else f"{self.server} {self.request}"


def run_wrk(
    port: int, path: str, body_file: Path, connections: int, seconds: float
) -> dict[str, Any]:
    threads = min(2, connections)
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    cmd += ["-s", str(LUA), f"http://127.0.0.1:{port}{path}", "--", str(body_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return dict(json.loads(line.removeprefix("WRK_JSON ")))
    raise RuntimeError(f"wrk printed no summary ({proc.returncode}): {proc.stdout}{proc.stderr}")


def to_result(
    server: str, request: str, model: str, rows: int, conns: int, workers: int, out: dict[str, Any]
) -> Result:
    kinds = {k: int(out[k]) for k in ("connect", "read", "write", "timeout", "status")}
    seconds = out["duration_us"] / 1e6
    return Result(
        server=server,
        request=request,
        model=model,
        rows=rows,
        connections=conns,
        workers=workers,
        rps=out["requests"] / seconds if seconds else 0.0,
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        errors=sum(kinds.values()),
        error_kinds={k: v for k, v in kinds.items() if v},
        requests=int(out["requests"]),
        seconds=seconds,
    )


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    workers: list[int]
    connections: list[int]
    rows: list[int]
    duration: float
    warmup: float
    batch: BatchSettings


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    setups: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def anomaly(self, message: str) -> None:
        log(f"!! {message}")
        self.anomalies.append(message)


def body_file(protocol: str, model: FittedModel, rows: int) -> Path:
    path = WORK / "bodies" / f"{protocol}-{model.name}-{rows}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(request_body(protocol, model.rows[:rows]))
    return path


def verify(server: Server, launch: Launch, model: FittedModel, plan: Plan) -> list[str]:
    """One request per row label and size: a 200 with the local estimator's predictions."""
    problems = []
    for label, protocol in server.protocols.items():
        for rows in plan.rows:
            answer = post_json(
                launch.port, launch.paths[label], request_body(protocol, model.rows[:rows])
            )
            what = f"{server.name} {label} {model.name} {rows} row(s)"
            if answer.status != 200:
                problems.append(f"{what}: HTTP {answer.status} {answer.body[:200]!r}")
            elif server.name not in CONSTANT:
                got = read_predictions(protocol, answer.json())
                if got != model.expected_for(rows):
                    problems.append(f"{what}: predictions {got} != {model.expected_for(rows)}")
    return problems


def measure_server(
    pool: ServerPool, server: Server, model: FittedModel, workers: int, plan: Plan, report: Report
) -> None:
    launch = server.launch(model, workers, plan.batch)
    first_label, first_protocol = next(iter(server.protocols.items()))
    log(f"[{server.name} / {model.name} / {workers} worker(s)] starting on port {launch.port}")
    started = pool.start(
        f"{server.name}-{model.name}-w{workers}", launch.cmd, launch.env, launch.cwd
    )
    try:
        ready_body = request_body(first_protocol, model.rows[:1])
        begun = time.monotonic()
        pool.wait_ready(started, launch.port, launch.paths[first_label], ready_body)
        log(f"  ready in {time.monotonic() - begun:.1f} s")
        problems = verify(server, launch, model, plan)
        if problems:
            for problem in problems:
                report.anomaly(f"wrong answer, not loaded: {problem}")
            return
        for label, protocol in server.protocols.items():
            path = launch.paths[label]
            run_wrk(launch.port, path, body_file(protocol, model, 1), 16, plan.warmup)
            for rows in plan.rows:
                body = body_file(protocol, model, rows)
                for conns in plan.connections:
                    out = run_wrk(launch.port, path, body, conns, plan.duration)
                    result = to_result(server.name, label, model.name, rows, conns, workers, out)
                    report.results.append(result)
                    log(
                        f"  {result.label:<22} rows={rows:<2} c={conns:<2} {result.rps:8.0f} req/s"
                        f"  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
                        f"  errors {result.errors}"
                    )
                    if result.errors:
                        report.anomaly(f"{server.name} {label}: {result.error_kinds} errors")
    except (ServerStartFailed, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        report.anomaly(f"{server.name} / {model.name} / {workers} worker(s): {exc}")
    finally:
        pool.stop(started)


# -- set-up ------------------------------------------------------------------------------------


def set_up(
    servers: list[Server], models: list[FittedModel], example: Path, report: Report
) -> list[Server]:
    """Install and prepare each server; the ones that cannot be had are skipped with a reason."""
    ready = []
    for server in servers:
        try:
            server.ensure(log)
            log(f"[{server.name}] writing the models in its own format")
            server.prepare(models, example)
            report.versions[server.name] = server.version()
            ready.append(server)
        except (SetupFailed, OSError, ImportError) as exc:
            report.skipped[server.name] = str(exc).splitlines()[0]
            log(f"!! skipping {server.name}: {exc}")
    return ready


def measure(servers: list[Server], models: list[FittedModel], plan: Plan, report: Report) -> None:
    with ServerPool(WORK / "logs").running() as pool:
        for workers in plan.workers:
            for server in servers:
                report.setups[f"{server.name} w{workers}"] = server.describe(workers, plan.batch)
                for model in models[:1] if server.name in CONSTANT else models:
                    measure_server(pool, server, model, workers, plan, report)


# -- report ------------------------------------------------------------------------------------


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        " | ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _lookup(results: list[Result]) -> dict[tuple[str, str, str, int, int, int], Result]:
    return {(r.server, r.request, r.model, r.rows, r.connections, r.workers): r for r in results}


def results_table(results: list[Result], model: str, workers: int) -> str:
    order = {name: i for i, name in enumerate((*PEERS, *CONSTANT, LOOPLINE))}
    mine = [
        r for r in results if r.workers == workers and (r.model == model or r.server in CONSTANT)
    ]
    mine.sort(key=lambda r: (r.rows, r.connections, order.get(r.server, 99), r.request))
    rows = [
        (
            f"{r.rows} row{'s' if r.rows > 1 else ''}",
            str(r.connections),
            r.label,
            f"{r.rps:,.0f}",
            _fmt_ms(r.p50_ms),
            _fmt_ms(r.p99_ms),
            str(r.errors),
        )
        for r in mine
    ]
    return _table(("request", "conns", "server", "req/s", "p50 ms", "p99 ms", "errors"), rows)


def best_peer(
    results: list[Result], model: str, rows: int, conns: int, workers: int
) -> Result | None:
    peers = [
        r
        for r in results
        if r.server in PEERS
        and (r.model, r.rows, r.connections, r.workers) == (model, rows, conns, workers)
        and r.errors == 0
    ]
    return max(peers, key=lambda r: r.rps, default=None)


def ratio_rows(results: list[Result], model: str, workers: int) -> list[Sequence[str]]:
    table = _lookup(results)
    out: list[Sequence[str]] = []
    combos = sorted(
        {(r.rows, r.connections) for r in results if r.model == model and r.workers == workers}
    )
    for rows, conns in combos:
        mine = table.get((LOOPLINE, "v2", model, rows, conns, workers))
        peer = best_peer(results, model, rows, conns, workers)
        bare = ceiling(results, rows, conns, workers)
        framework = ceiling(results, rows, conns, workers, STARLETTE)
        out.append(
            (
                f"{rows} row{'s' if rows > 1 else ''}",
                str(conns),
                f"{peer.server} {peer.rps:,.0f}" if peer else "-",
                f"{mine.rps:,.0f}" if mine else "-",
                f"{mine.rps / peer.rps:.2f}x" if mine and peer else "-",
                f"{_fmt_ms(mine.p99_ms)} vs {_fmt_ms(peer.p99_ms)}" if mine and peer else "-",
                f"{100 * mine.rps / bare.rps:.0f}%" if mine and bare else "-",
                f"{100 * mine.rps / framework.rps:.0f}%" if mine and framework else "-",
            )
        )
    return out


def _models(results: list[Result]) -> list[str]:
    return list(dict.fromkeys(r.model for r in results if r.server not in CONSTANT))


def ceiling(
    results: list[Result], rows: int, conns: int, workers: int, name: str = CEILING
) -> Result | None:
    key = (name, rows, conns, workers)
    return next((r for r in results if (r.server, r.rows, r.connections, r.workers) == key), None)


def verdicts(results: list[Result], model: str, workers: int) -> list[tuple[str, str]]:
    """The issue's targets for one model and worker count: (what, PASS/MISS/n/a)."""
    table = _lookup(results)
    mine = table.get((LOOPLINE, "v2", model, 1, 64, workers))
    peer = best_peer(results, model, 1, 64, workers)
    bare = ceiling(results, 1, 64, workers)
    mine1 = table.get((LOOPLINE, "v2", model, 1, 1, workers))
    mlflow1 = table.get(("mlflow", "invocations", model, 1, 1, workers))

    def check(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    loopline_runs = [
        r for r in results if r.server == LOOPLINE and r.model == model and r.workers == workers
    ]
    out = [
        (
            f"1 row, 64 conns: req/s >= {TARGET_PEER_RATIO:g}x best peer",
            check(mine.rps >= TARGET_PEER_RATIO * peer.rps if mine and peer else None),
        ),
        (
            "1 row, 64 conns: p99 <= best peer's p99",
            check(mine.p99_ms <= peer.p99_ms if mine and peer else None),
        ),
        (
            f"1 row, 64 conns: req/s >= {TARGET_CEILING_SHARE:.0%} of the bare ceiling",
            check(mine.rps >= TARGET_CEILING_SHARE * bare.rps if mine and bare else None),
        ),
        (
            "zero errors (every Loopline run)",
            check(all(r.errors == 0 for r in loopline_runs) if loopline_runs else None),
        ),
        (
            "1 row, 1 conn: p50 <= 1/3 of mlflow models serve's",
            check(
                mine1.p50_ms <= TARGET_P50_VS_MLFLOW * mlflow1.p50_ms if mine1 and mlflow1 else None
            ),
        ),
    ]
    return out


def print_report(report: Report, plan: Plan, header: dict[str, Any]) -> None:
    print(
        f"\nServing benchmark: Loopline {report.versions.get(LOOPLINE, '-')} ({header['commit']}) "
        f"on {header['cpus']} CPUs, Python {header['python']}; wrk {plan.duration:g} s per run "
        f"after a {plan.warmup:g} s warm-up; 1-min load {header['load_start']:.2f} at start, "
        f"{header['load_end']:.2f} at end"
    )
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()))
    for name, reason in report.skipped.items():
        print(f"Skipped {name}: {reason}")
    models = _models(report.results)
    for workers in plan.workers:
        print(f"\n== {workers} worker(s) per server ==")
        for key, setup in report.setups.items():
            if key.endswith(f" w{workers}"):
                print(f"  {key.rsplit(' ', 1)[0]}: {setup}")
        for model in models:
            print(f"\n-- {model} ({workers} worker(s)) --")
            print(results_table(report.results, model, workers))
            print(
                "\nLoopline (V2) vs the best peer, the bare ASGI ceiling and a Starlette constant:"
            )
            header_row = (
                "request",
                "conns",
                "best peer req/s",
                "loopline",
                "ratio",
                "p99 ms (loopline vs peer)",
                "of bare ASGI",
                "of Starlette",
            )
            print(_table(header_row, ratio_rows(report.results, model, workers)))
            print("\nTargets:")
            for what, verdict in verdicts(report.results, model, workers):
                print(f"  {verdict:<4} {what}")
    if report.anomalies:
        print("\nAnomalies:")
        for anomaly in report.anomalies:
            print(f"  - {anomaly}")


# -- main ----------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 worker, 1 and 64 conns, 3 s runs")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: mlflow,mlserver,bentoml,bare,starlette,loopline",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (10)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per server (3)")
    parser.add_argument("--workers", default=None, help="worker counts to compare (1,2)")
    parser.add_argument("--connections", default=None, help="wrk connections (1,16,64)")
    parser.add_argument("--max-batch-size", type=int, default=64, help="MLServer and Loopline")
    parser.add_argument(
        "--max-batch-delay-ms", type=float, default=2.0, help="MLServer and Loopline"
    )
    parser.add_argument(
        "--loopline-arg", action="append", default=[], help="extra loopline serve flag"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every result to this file")
    parser.add_argument(
        "--peers-from", type=Path, default=None, help="reuse results from a --json file"
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    quick = bool(args.quick)
    return Plan(
        workers=_ints(args.workers or ("1" if quick else "1,2")),
        connections=_ints(args.connections or ("1,64" if quick else "1,16,64")),
        rows=[1, 32],
        duration=args.duration or (3.0 if quick else 10.0),
        warmup=args.warmup or (1.0 if quick else 3.0),
        batch=BatchSettings(args.max_batch_size, args.max_batch_delay_ms),
    )


def reuse(path: Path, measured: set[str], report: Report) -> None:
    """Take the results of servers not measured now from an earlier --json file."""
    old = json.loads(path.read_text())
    for item in old["results"]:
        if item["server"] not in measured:
            report.results.append(Result(**item))
    for key, value in old.get("setups", {}).items():
        if key.split(" ")[0] not in measured:
            report.setups.setdefault(key, value)
    for key, value in old.get("versions", {}).items():
        report.versions.setdefault(key, value)
    reused = sorted({r["server"] for r in old["results"]} - measured)
    log(f"reused the results of {reused} from {path}")


def git_describe() -> str:
    proc = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "?"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    servers = make_servers(args.loopline_arg)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()] or list(servers)
    unknown = set(wanted) - set(servers)
    if unknown:
        raise SystemExit(
            f"--only: unknown server(s) {sorted(unknown)}; choose from {list(servers)}"
        )
    header = {
        "commit": git_describe(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_start": os.getloadavg()[0],
    }
    report = Report()
    if args.peers_from:
        reuse(args.peers_from, set(wanted), report)
    log("fitting the two churn models")
    models = fit_models(WORK / "models")
    ready = set_up(
        [servers[n] for n in servers if n in wanted],
        models,
        WORK / "models" / "input_example.json",
        report,
    )
    measure(ready, models, plan, report)
    header["load_end"] = os.getloadavg()[0]
    print_report(report, plan, header)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            **header,
            "plan": asdict(plan),
            "models": {m.name: m.pickle_path.name for m in models},
            "results": [asdict(r) for r in report.results],
            "setups": report.setups,
            "versions": report.versions,
            "skipped": report.skipped,
            "anomalies": report.anomalies,
        }
        args.json.write_text(json.dumps(payload, indent=2))
        log(f"results written to {args.json}")
    return 1 if report.anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
