"""Soak ``loopline serve``: a fixed request rate for minutes, watching errors, latency and memory.

Run from the repository root:

    .venv/bin/python bench/soak_serving.py                          # 10 minutes, 400 req/s
    .venv/bin/python bench/soak_serving.py --minutes 2 --workers 2 --rate 600 --model churn_hgb

It fits the benchmark's churn model (``bench/_serving_models.py``), saves it with
``loopline.sklearn.save_model``, starts ``loopline serve`` with N workers on 127.0.0.1 and a free
port (OpenMP/BLAS pinned to one thread), checks one answer against the local estimator, and
then sends V2 requests at a fixed rate, well below capacity, from an asyncio client over raw
HTTP/1.1 keep-alive connections. The schedule is open-loop: request i is due at start + i/rate
on connection i mod C, and its latency counts from when it was due, so a stalled server shows up
as latency rather than as a lower rate. Every 10 s the script sums the resident memory (VmRSS)
of the server's process tree (parent + workers, from /proc).

It prints errors (non-2xx, socket errors), the achieved rate, latency percentiles and RSS at
start, end and max, and exits 1 if there was any error or if the tree's RSS grew by more than
``--max-growth-mb`` between the first and the last minute after the warm-up (medians of the
samples in each). The server is stopped by its PID at the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _serving_models import V2, FittedModel, fit_models, read_predictions, request_body
from _serving_peers import BatchSettings, LooplineServe, SetupFailed
from _serving_procs import ServerPool, ServerStartFailed, post_json, tree_rss_bytes

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "soak"
MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    ok: int = 0
    status_errors: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    late: int = 0  # requests sent more than 10 ms after they were due

    @property
    def errors(self) -> int:
        return sum(self.status_errors.values()) + self.socket_errors


@dataclass(frozen=True)
class RssSample:
    at_s: float
    rss_bytes: int
    processes: int


# -- the client ----------------------------------------------------------------------------------


def raw_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one HTTP/1.1 response with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def connection_loop(port: int, request: bytes, due: list[float], tally: Tally) -> None:
    """Send the requests due at the given monotonic times, one at a time, on one connection."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    for when in due:
        delay = when - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            tally.late += 1
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status, keep_alive = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.socket_errors += 1
            _close(writer)
            writer, reader = None, None
            continue
        tally.latencies_s.append(time.monotonic() - when)
        if 200 <= status < 300:
            tally.ok += 1
        else:
            tally.status_errors[status] = tally.status_errors.get(status, 0) + 1
        if not keep_alive:
            _close(writer)
            writer, reader = None, None
    _close(writer)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


async def sample_rss(pid: int, every_s: float, until: float, samples: list[RssSample]) -> None:
    start = time.monotonic()
    while True:
        rss, count = tree_rss_bytes(pid)
        samples.append(RssSample(time.monotonic() - start, rss, count))
        if time.monotonic() + every_s > until:
            return
        await asyncio.sleep(every_s)


async def drive(
    port: int, path: str, body: bytes, rate: float, seconds: float, connections: int, pid: int
) -> tuple[Tally, list[RssSample], float]:
    """Send rate x seconds requests on a fixed schedule; sample the server's RSS meanwhile."""
    tally, samples = Tally(), list[RssSample]()
    request = raw_request(port, path, body)
    start = time.monotonic() + 0.5
    total = int(rate * seconds)
    schedule = [start + i / rate for i in range(total)]
    tasks = [
        connection_loop(port, request, schedule[c::connections], tally) for c in range(connections)
    ]
    sampler = sample_rss(pid, 10.0, start + seconds, samples)
    await asyncio.gather(sampler, *tasks)
    return tally, samples, time.monotonic() - start


# -- report ------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def rss_growth(samples: list[RssSample], warmup_s: float) -> tuple[float, float]:
    """(baseline, end) RSS in MB: medians of the first and the last minute after the warm-up."""
    settled = [s for s in samples if s.at_s >= warmup_s] or samples
    first = [s.rss_bytes for s in settled if s.at_s < settled[0].at_s + 60]
    last = [s.rss_bytes for s in settled if s.at_s > settled[-1].at_s - 60]
    return statistics.median(first) / MB, statistics.median(last) / MB


def print_summary(
    args: argparse.Namespace, tally: Tally, samples: list[RssSample], elapsed: float
) -> bool:
    """Print the soak's results; True if it passed."""
    latencies = sorted(tally.latencies_s)
    base_mb, end_mb = rss_growth(samples, args.warmup_minutes * 60)
    max_sample = max(samples, key=lambda s: s.rss_bytes)
    print(
        f"\nSoak of loopline serve: {args.model}, {args.rows} row(s) per V2 request, "
        f"{args.workers} worker(s), {args.connections} connections, target {args.rate:g} req/s "
        f"for {args.minutes:g} min"
    )
    print(f"requests answered: {len(latencies):,} ({tally.ok:,} 2xx) in {elapsed:.0f} s")
    print(f"achieved rate:     {len(latencies) / elapsed:,.1f} req/s ({tally.late:,} sent late)")
    print(
        f"errors:            {tally.errors} "
        f"(status {tally.status_errors or 0}, socket {tally.socket_errors})"
    )
    print(
        "latency (from due time): "
        + ", ".join(f"p{q:g} {1000 * percentile(latencies, q):.2f} ms" for q in (50, 90, 99, 99.9))
        + f", max {1000 * (latencies[-1] if latencies else float('nan')):.2f} ms"
    )
    print(
        f"RSS of the process tree ({samples[-1].processes} processes): "
        f"start {samples[0].rss_bytes / MB:.1f} MB, end {samples[-1].rss_bytes / MB:.1f} MB, "
        f"max {max_sample.rss_bytes / MB:.1f} MB (at {max_sample.at_s:.0f} s)"
    )
    growth = end_mb - base_mb
    print(
        f"after the {args.warmup_minutes:g}-min warm-up: {base_mb:.1f} MB (first minute) -> "
        f"{end_mb:.1f} MB (last minute), growth {growth:+.1f} MB (limit {args.max_growth_mb:g} MB)"
    )
    print(
        "RSS samples (s: MB): "
        + ", ".join(f"{s.at_s:.0f}: {s.rss_bytes / MB:.1f}" for s in samples)
    )
    passed = tally.errors == 0 and growth <= args.max_growth_mb
    print(f"\nresult: {'PASS' if passed else 'FAIL'}")
    return passed


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to send (10)")
    parser.add_argument("--rate", type=float, default=400.0, help="requests per second (400)")
    parser.add_argument("--workers", type=int, default=2, help="loopline serve --workers (2)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (16)")
    parser.add_argument("--rows", type=int, default=1, choices=range(1, 33), metavar="1..32")
    parser.add_argument("--model", default="churn_logreg", choices=["churn_logreg", "churn_hgb"])
    parser.add_argument("--warmup-minutes", type=float, default=1.0, help="ignored for RSS (1)")
    parser.add_argument("--max-growth-mb", type=float, default=32.0, help="RSS growth limit (32)")
    return parser.parse_args(argv)


def check_answer(port: int, path: str, model: FittedModel, rows: int) -> None:
    answer = post_json(port, path, request_body(V2, model.rows[:rows]))
    got = read_predictions(V2, answer.json()) if answer.status == 200 else None
    if got != model.expected_for(rows):
        raise SystemExit(
            f"wrong answer from loopline serve: HTTP {answer.status} {answer.body[:300]!r}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.minutes <= args.warmup_minutes:
        raise SystemExit("--minutes must be longer than --warmup-minutes")
    server = LooplineServe()
    server.workdir = WORK
    try:
        server.ensure(log)
    except SetupFailed as exc:
        raise SystemExit(str(exc)) from exc
    log("fitting the churn models and saving them with loopline.sklearn.save_model")
    models = {m.name: m for m in fit_models(WORK / "models")}
    model = models[args.model]
    server.prepare([model], WORK / "models" / "input_example.json")
    launch = server.launch(model, args.workers, BatchSettings(64, 2.0))
    path, body = launch.paths["v2"], request_body(V2, model.rows[: args.rows])
    with ServerPool(WORK / "logs").running() as pool:
        started = pool.start("loopline-soak", launch.cmd, launch.env, launch.cwd)
        try:
            pool.wait_ready(started, launch.port, path, body)
        except ServerStartFailed as exc:
            raise SystemExit(str(exc)) from exc
        check_answer(launch.port, path, model, args.rows)
        log(
            f"loopline serve (PID {started.pid}) on port {launch.port}: "
            f"{args.rate:g} req/s for {args.minutes:g} min on {args.connections} connections"
        )
        seconds = args.minutes * 60
        tally, samples, elapsed = asyncio.run(
            drive(launch.port, path, body, args.rate, seconds, args.connections, started.pid)
        )
        if started.proc.poll() is not None:
            log(f"!! loopline serve exited with {started.proc.returncode} during the soak")
            tally.socket_errors += 1
    return 0 if print_summary(args, tally, samples, elapsed) else 1


if __name__ == "__main__":
    sys.exit(main())
