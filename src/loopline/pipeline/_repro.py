"""``repro``: bring the pipeline up to date, running only what is stale, in dependency order.

Each stage is judged when everything it depends on has finished, so a re-run upstream stage
that wrote the same bytes leaves its downstream stages alone (early cut-off). A stale stage
whose exact inputs ran before is restored from the run cache instead of running. After each
successful stage its outs are stored, the lock is rewritten atomically and the run recorded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopline.core.errors import CommandFailed, LooplineError, NotFound
from loopline.data.workspace import Workspace
from loopline.pipeline._changes import stage_changes
from loopline.pipeline._dag import select
from loopline.pipeline._edits import edited_outs, refusal
from loopline.pipeline._executors import Executor, LocalExecutor, StageFuture, outcome_of
from loopline.pipeline._load import load_pipeline
from loopline.pipeline._lock import LockedPath, LockEntry, read_lock, write_lock
from loopline.pipeline._model import Pipeline, Stage
from loopline.pipeline._outputs import (
    PathHasher,
    objects_present,
    remove_path,
    restore_outputs,
    store_outputs,
)
from loopline.pipeline._params import ParamsReader
from loopline.pipeline._paths import check_writable
from loopline.pipeline._record import RunRecorder, StageRecord, now_ms
from loopline.pipeline._run_cache import RunCache, run_key
from loopline.pipeline._sigint import InterruptGuard
from loopline.pipeline._task import StageOutcome, StageTask, hostname
from loopline.pipeline._unfinished import forget_run, mark_failed, mark_started

if TYPE_CHECKING:
    import queue

__all__ = ["ReproResult", "StageReport", "repro"]


@dataclass(frozen=True)
class StageReport:
    """What ``repro`` did with one stage."""

    name: str
    action: str  # ran, restored, unchanged, frozen, would run, failed
    reasons: str = ""
    duration: float = 0.0
    exit_code: int = 0
    log_tail: str = ""
    warnings: tuple[str, ...] = ()  # e.g. a metrics file that cannot be read


@dataclass
class ReproResult:
    stages: list[StageReport] = field(default_factory=list)
    run_id: str | None = None  # the parent tracking run, if any stage executed
    #: what to `git add` after the run: the lock, the .gitignore files beside cached outs and
    #: the outs left to git (``cache: false``), relative to the project root
    git_files: list[str] = field(default_factory=list)
    #: with ``dry``: why the real run would refuse to start (an out whose edit is not saved)
    refusal: LooplineError | None = None

    def by_action(self, action: str) -> list[str]:
        return [s.name for s in self.stages if s.action == action]


@dataclass
class _Plan:
    stage: Stage
    task: StageTask
    deps: list[LockedPath]
    params: dict[str, dict[str, Any]]
    key: str
    start_ms: int = 0


def repro(
    root: Path,
    targets: Sequence[str] = (),
    *,
    force: bool = False,
    single: bool = False,
    dry: bool = False,
    executor: Executor | None = None,
    on_report: Callable[[StageReport], None] | None = None,
    on_start: Callable[[Stage], None] | None = None,
    record: bool = True,
) -> ReproResult:
    """Reproduce ``targets`` (default: every stage) of the project at ``root``."""
    with Workspace(root) as ws:
        pipeline = load_pipeline(ws.root)
        order = select(targets, list(pipeline.stages), pipeline.upstream, single=single)
        driver = _Driver(ws, pipeline, force=force, dry=dry)
        driver.on_report, driver.on_start = on_report, on_start
        driver.check_inputs(order)
        if dry:
            return driver.dry_run(order)
        own = executor is None
        runner = executor if executor is not None else LocalExecutor(1)
        recorder = RunRecorder(ws.root, pipeline.file, list(targets)) if record else None
        with driver.guard:
            try:
                with ws.lock():
                    # another repro may have committed stages since the lock was first read
                    driver.lock = read_lock(pipeline.lock_path)
                    driver.hasher.forget()  # outs another repro wrote while this one waited
                    if not force:
                        driver.refuse_to_lose_edits(order)
                    driver.scratch = ws.fresh_scratch()
                    try:
                        driver.run(order, runner, recorder)
                    except BaseException:
                        driver.guard.hold()  # a second Ctrl-C must not cut the clean-up
                        runner.close(cancel=True)
                        driver.stop_running(runner)
                        raise
            except BaseException as exc:
                driver.guard.hold()
                runner.close(cancel=True)
                if recorder is not None:
                    driver.result.run_id = recorder.close("KILLED")
                if isinstance(exc, KeyboardInterrupt):
                    raise KeyboardInterrupt(driver.interrupted_message()) from None
                raise
        if own:
            runner.close()
        status = "FAILED" if driver.failed else "FINISHED"
        driver.result.run_id = recorder.close(status) if recorder is not None else None
        driver.raise_if_failed()
        return driver.result


class _Driver:
    def __init__(self, ws: Workspace, pipeline: Pipeline, *, force: bool, dry: bool) -> None:
        self.ws, self.pipeline, self.force, self.dry = ws, pipeline, force, dry
        self.lock = read_lock(pipeline.lock_path)
        self.hasher = PathHasher(ws)
        self.params = ParamsReader(ws.root)
        self.run_cache = RunCache(ws.paths.objects_dir)
        self.result = ReproResult()
        self.failed: list[StageReport] = []
        self.scratch = ws.paths.tmp_dir
        self.on_report: Callable[[StageReport], None] | None = None
        self.on_start: Callable[[Stage], None] | None = None
        self.running: dict[str, tuple[_Plan, StageFuture]] = {}
        self.stopped: dict[str, tuple[list[str], list[str]]] = {}  # name → (restored, removed)
        self.guard = InterruptGuard()

    # -- before anything runs -----------------------------------------------------------------
    def check_inputs(self, order: list[str]) -> None:
        """Refuse to start when a dep can never exist or a param key is missing."""
        produced = self.pipeline.producers()
        for name in order:
            stage = self.pipeline.stages[name]
            if stage.frozen:
                continue
            for dep in stage.deps:
                if self.hasher(dep) is None and not _has_producer(dep, produced):
                    raise NotFound(
                        f"stage '{name}' depends on {dep}, which does not exist and no stage "
                        "produces it",
                        hint=self._missing_dep_hint(dep),
                    )
            self.params.values(stage.params, name)

    def _missing_dep_hint(self, dep: str) -> str:
        from loopline.data.pointer import POINTER_SUFFIX

        tracked = (self.ws.root / (dep + POINTER_SUFFIX)).is_file() or self.ws.owner_of(dep)
        if tracked:
            return (
                f"it is tracked data: restore it with `loopline checkout {dep}`, or "
                f"`loopline pull {dep}` if the cache does not hold it"
            )
        return f"create {dep}, or fix the path in the stage's deps"

    def refuse_to_lose_edits(self, order: list[str]) -> None:
        """Refuse to replace a stage out that was edited since the lock recorded it (running
        the stage or restoring it from the run cache would), unless its content is saved."""
        edits = edited_outs(self.ws, self.pipeline, self.lock, self.hasher, order)
        if edits:
            raise refusal(edits[0], self.pipeline.lock_path.name)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, order: list[str], runner: Executor, recorder: RunRecorder | None) -> None:
        self.recorder = recorder
        pending = list(order)
        running = self.running
        import queue

        finished: queue.Queue[str] = queue.Queue()
        while pending or running:
            if not self.failed:
                self._launch_ready(pending, running, runner, finished)
            if not running:
                break
            name = finished.get()
            # the command has ended: storing its outs and writing the lock go to the end even
            # if Ctrl-C is pressed meanwhile, which then stops repro right after
            with self.guard.deferred():
                plan, future = running.pop(name)
                self._finish(plan, outcome_of(future, plan.task), runner)

    def _launch_ready(
        self,
        pending: list[str],
        running: dict[str, tuple[_Plan, StageFuture]],
        runner: Executor,
        finished: queue.Queue[str],
    ) -> None:
        progress = True
        while progress and not self.failed:
            progress = False
            for name in list(pending):
                if len(running) >= runner.slots:
                    return
                waiting = set(pending) | set(running)
                if any(p in waiting for p in self.pipeline.upstream[name]):
                    continue
                pending.remove(name)
                progress = True
                plan = self._decide(self.pipeline.stages[name], runner)
                if plan is None:
                    continue
                if self.recorder is not None:
                    self.recorder.start()
                if self.on_start is not None:
                    self.on_start(plan.stage)
                plan.start_ms = now_ms()
                with self.guard.deferred():  # a started command is always in `running`
                    mark_started(self.ws, name)
                    future = runner.submit(plan.task)
                    running[name] = (plan, future)
                    future.add_done_callback(_notify(finished, name))

    # -- judging one stage --------------------------------------------------------------------
    def _decide(self, stage: Stage, runner: Executor) -> _Plan | None:
        """Report the stage as frozen, unchanged or restored, or return the plan to run it."""
        entry = self.lock.get(stage.name)
        if stage.frozen:
            self._frozen(stage)
            return None
        changes = stage_changes(stage, entry, self.hasher, self.params)
        if not changes and not self.force:
            self._report(StageReport(stage.name, "unchanged"))
            return None
        for out in stage.outs:
            check_writable(self.ws.root, out.path, f"output of stage '{stage.name}'")
        deps = [self._dep(stage, d) for d in stage.deps]
        params = self.params.values(stage.params, stage.name)
        key = run_key(stage.cmd, deps, params, stage.outs)
        if self._restore(stage, deps, params, key, changes.summary()):
            return None
        task = StageTask(
            name=stage.name,
            root=str(self.ws.root),
            commands=stage.commands,
            wdir=stage.wdir,
            clean=tuple(o.path for o in stage.outs if not o.persist),
            outs=tuple((o.path, o.cache) for o in stage.outs),
        )
        if runner.through_remote:
            task = self._with_inputs(task, stage, deps, runner)
        return _Plan(stage, task, deps, params, key)

    def _dep(self, stage: Stage, path: str) -> LockedPath:
        found = self.hasher(path)
        if found is None:
            raise NotFound(
                f"stage '{stage.name}' depends on {path}, which does not exist",
                hint="run the stage that produces it first (drop -s), or restore it",
            )
        return found

    def _frozen(self, stage: Stage) -> None:
        missing = [o.path for o in stage.outs if self.hasher(o.path) is None]
        if missing:
            entry = self.lock.get(stage.name)
            locked = entry is not None and any(o.path == missing[0] and o.cache for o in entry.outs)
            restore = f"restore it with `loopline checkout {missing[0]}`, or " if locked else ""
            raise NotFound(
                f"stage '{stage.name}' is frozen, but its output {missing[0]} is missing",
                hint=f"{restore}set 'frozen: false' to run it again",
            )
        self._report(StageReport(stage.name, "frozen"))

    def _restore(
        self, stage: Stage, deps: list[LockedPath], params: dict[str, Any], key: str, why: str
    ) -> bool:
        if (
            self.force
            or stage.always_changed
            or not stage.outs
            or any(o.persist for o in stage.outs)
        ):
            return False
        outs = self.run_cache.get(key)
        if outs is None or not objects_present(self.ws, outs):
            return False
        with self.guard.deferred():  # the outs and the lock entry that names them, together
            restore_outputs(self.ws, outs, self.scratch)
            self._commit(stage, deps, params, outs)
            forget_run(self.ws, stage.name)
        self._report(StageReport(stage.name, "restored", why))
        return True

    def _with_inputs(
        self, task: StageTask, stage: Stage, deps: list[LockedPath], runner: Executor
    ) -> StageTask:
        from dataclasses import replace

        from loopline.objects.remote import Remote
        from loopline.objects.transfer import push_objects

        files = [self.hasher(p.file) for p in stage.params]
        inputs = [*deps, *(f for f in files if f is not None)]
        missing = [i for i in inputs if not objects_present(self.ws, [i])]
        store_outputs(self.ws, [(i.path, True) for i in missing])
        remote_config = getattr(runner, "remote", None)
        assert remote_config is not None
        push_objects(
            self.ws.odb, Remote(remote_config), [i.oid for i in inputs], jobs=self.ws.settings.jobs
        )
        return replace(task, inputs=tuple(inputs))

    # -- after a stage ran --------------------------------------------------------------------
    def _finish(self, plan: _Plan, outcome: StageOutcome, runner: Executor) -> None:
        stage = plan.stage
        missing = list(outcome.missing)
        if outcome.exit_code == 0 and outcome.outs is None:
            missing = [o.path for o in stage.outs if not (self.ws.root / o.path).exists()]
        if outcome.exit_code != 0 or missing:
            why = (
                f"the command exited with code {outcome.exit_code}"
                if outcome.exit_code != 0
                else f"the command did not write its output {missing[0]}"
            )
            self._failed(plan, outcome, why)
            return
        if outcome.outs is not None:
            outs = self._fetch(list(outcome.outs), runner)
        else:
            outs = store_outputs(self.ws, [(o.path, o.cache) for o in stage.outs])
        self._commit(stage, plan.deps, plan.params, outs)
        forget_run(self.ws, stage.name)
        if not any(o.persist for o in stage.outs):
            self.run_cache.put(plan.key, outs)
        self._record(plan, outcome, outs, "FINISHED")
        metrics = [o.path for o in stage.outs if o.kind == "metrics"]
        _, problems = _read_metrics(self.ws.root, metrics)
        self._report(
            StageReport(
                stage.name,
                "ran",
                duration=outcome.duration,
                log_tail=outcome.log_tail,
                warnings=tuple(problems),
            )
        )

    def _fetch(self, outs: list[LockedPath], runner: Executor) -> list[LockedPath]:
        from loopline.objects.remote import Remote
        from loopline.objects.transfer import pull_objects

        remote_config = getattr(runner, "remote", None)
        assert remote_config is not None
        pull_objects(
            self.ws.odb, Remote(remote_config), [o.oid for o in outs], jobs=self.ws.settings.jobs
        )
        restore_outputs(self.ws, outs, self.scratch)
        return outs

    def _commit(
        self, stage: Stage, deps: list[LockedPath], params: dict[str, Any], outs: list[LockedPath]
    ) -> None:
        from loopline.data.gitignore import ignore_in_git

        files = self.result.git_files
        for out in outs:
            if out.cache:
                ignore_in_git(self.ws.root, out.path)
            file = git_file_for(out)
            if file not in files:
                files.append(file)
        if self.pipeline.lock_path.name not in files:
            files.insert(0, self.pipeline.lock_path.name)
        # rewrite the lock from what the file holds now (under the project lock), so that
        # stages committed by another run are kept
        self.lock = read_lock(self.pipeline.lock_path)
        self.lock[stage.name] = LockEntry(stage.cmd, tuple(deps), params, tuple(outs))
        ordered = {n: self.lock[n] for n in self.pipeline.stages if n in self.lock}
        write_lock(self.pipeline.lock_path, ordered)
        self.hasher.forget()

    def _failed(self, plan: _Plan, outcome: StageOutcome, why: str) -> None:
        report = StageReport(
            plan.stage.name,
            "failed",
            why,
            outcome.duration,
            outcome.exit_code or 1,
            outcome.log_tail,
        )
        self.failed.append(report)
        mark_failed(self.ws, plan.stage.name)
        self._record(plan, outcome, [], "FAILED")
        self._report(report)
        self.hasher.forget()

    def _record(
        self, plan: _Plan, outcome: StageOutcome, outs: list[LockedPath], status: str
    ) -> None:
        if self.recorder is None:
            return
        stage = plan.stage
        metrics = (
            _read_metrics(self.ws.root, [o.path for o in stage.outs if o.kind == "metrics"])[0]
            if status != "KILLED"
            else {}
        )
        self.recorder.record(
            StageRecord(
                stage=stage.name,
                cmd="\n".join(stage.commands),
                status=status,
                start_ms=plan.start_ms,
                end_ms=now_ms(),
                exit_code=outcome.exit_code,
                log_tail=outcome.log_tail,
                host=outcome.host,
                params=plan.params,
                metrics=metrics,
                deps=tuple(plan.deps),
                outs=tuple(outs),
            )
        )

    def _report(self, report: StageReport) -> None:
        self.result.stages.append(report)
        if self.on_report is not None:
            self.on_report(report)

    def raise_if_failed(self) -> None:
        if not self.failed:
            return
        first = self.failed[0]
        raise CommandFailed(
            f"stage '{first.name}' failed: {first.reasons}",
            hint=f"fix it and run `loopline repro` again; {self.pipeline.lock_path.name} keeps "
            "the stages that finished",
            log_tail=first.log_tail,
        )

    # -- after Ctrl-C or an error while stages run --------------------------------------------
    def stop_running(self, runner: Executor) -> None:
        """For each stage whose command was stopped: put back the outs the lock records (or
        remove what it half wrote) and record its run as KILLED."""
        for name, (plan, future) in list(self.running.items()):
            self.running.pop(name)
            tail = "interrupted"
            try:  # a local command has ended by now: keep what it printed
                ended = future.result(timeout=0)
                tail = f"{ended.log_tail}\n{tail}".lstrip()
            except Exception:  # still running elsewhere (Dask), or the executor failed
                pass
            duration = (now_ms() - plan.start_ms) / 1000
            self._record(plan, StageOutcome(name, 130, duration, tail, hostname()), [], "KILLED")
            if not runner.through_remote:  # else its outs never reached the workspace
                self.stopped[name] = self._undo_outputs(plan.stage)
            else:
                self.stopped[name] = ([], [])
            forget_run(self.ws, name)

    def _undo_outputs(self, stage: Stage) -> tuple[list[str], list[str]]:
        entry = self.lock.get(stage.name)
        previous = {o.path: o for o in entry.outs} if entry is not None else {}
        restored: list[str] = []
        removed: list[str] = []
        for out in stage.outs:
            if out.persist:  # the command works on it in place: there is no earlier state
                continue
            try:
                check_writable(self.ws.root, out.path, f"output of stage '{stage.name}'")
            except LooplineError:  # never touched: the stage refused to start on it
                continue
            old = previous.get(out.path)
            if old is not None and objects_present(self.ws, [old]):
                restore_outputs(self.ws, [old], self.scratch)
                restored.append(out.path)
            elif os.path.lexists(self.ws.root / out.path):
                remove_path(self.ws.root / out.path)
                removed.append(out.path)
        self.hasher.forget()
        return restored, removed

    def interrupted_message(self) -> str:
        """What Ctrl-C left: each stopped stage with what was put back or removed."""
        lock = self.pipeline.lock_path.name
        parts = []
        for name, (restored, removed) in self.stopped.items():
            done = []
            if restored:
                them = "them" if len(restored) > 1 else "it"
                done.append(f"{', '.join(restored)} put back as {lock} records {them}")
            if removed:
                done.append(f"half-written {', '.join(removed)} removed")
            parts.append(f"stage '{name}' was stopped" + (f" ({'; '.join(done)})" if done else ""))
        if self.result.by_action("ran") or self.result.by_action("restored"):
            parts.append(f"the stages that finished are kept in {lock}")
        elif not parts:
            parts.append("no stage had started, nothing was changed")
        return "; ".join(parts) + "; run `loopline repro` again to finish"

    # -- --dry --------------------------------------------------------------------------------
    def dry_run(self, order: list[str]) -> ReproResult:
        if not self.force:
            edits = edited_outs(self.ws, self.pipeline, self.lock, self.hasher, order)
            if edits:
                self.result.refusal = refusal(edits[0], self.pipeline.lock_path.name)
        would: set[str] = set()
        for name in order:
            stage = self.pipeline.stages[name]
            if stage.frozen:
                self._report(StageReport(name, "frozen"))
                continue
            changes = stage_changes(stage, self.lock.get(name), self.hasher, self.params)
            upstream = [p for p in self.pipeline.upstream[name] if p in would]
            if changes or self.force or upstream:
                why = changes.summary() or (f"upstream {upstream[0]} would run" if upstream else "")
                would.add(name)
                self._report(StageReport(name, "would run", why or "forced"))
            else:
                self._report(StageReport(name, "unchanged"))
        return self.result


def git_file_for(out: LockedPath) -> str:
    """What git should track for a stage out: the .gitignore beside it, or the out itself."""
    if not out.cache:
        return out.path
    folder = os.path.dirname(out.path)
    return f"{folder}/.gitignore" if folder else ".gitignore"


def _notify(finished: queue.Queue[str], name: str) -> Callable[[Any], None]:
    def done(_future: Any) -> None:
        finished.put(name)

    return done


def _has_producer(dep: str, produced: dict[str, str]) -> bool:
    return any(
        dep == out or dep.startswith(out + "/") or out.startswith(dep + "/") for out in produced
    )


def _read_metrics(root: Path, paths: list[str]) -> tuple[dict[str, float], list[str]]:
    """The numbers in the metrics files, and what is wrong with those that cannot be read."""
    from loopline.pipeline._files import read_metrics
    from loopline.pipeline._params import flatten

    found: dict[str, float] = {}
    problems: list[str] = []
    for path in paths:
        try:
            data = read_metrics(root, path)
        except LooplineError as exc:
            problems.append(exc.message)
            continue
        for key, value in flatten(data).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[key] = float(value)
    return found, problems


def elapsed(start: float) -> float:
    return time.perf_counter() - start
