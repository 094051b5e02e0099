"""The analysis engine for one video: decide what to compute and what to read back, decode the video
in as few passes as the stages allow (one for stages that need nothing first, a second for stages
that sample inside shots), feed every frame stage from the same decode, run the other stages as
soon as their inputs exist, and hand each stage's results to the store as soon as it finishes.

The engine does not know the archive: ``Store`` is the small protocol it needs (what is stored
with which parameters, read a stage back, save a stage). ``reelscope.analysis`` adapts the
archive to it. The decode thread (``media.decode.iter_frames``, with a bounded queue) overlaps
decoding with the stages' work on the main thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol, Sequence

from reelscope.errors import Cancelled
from reelscope.media.decode import DecodeStats, iter_frames
from reelscope.media.integrity import check_complete
from reelscope.pipeline.stage import Context, Stage, dependents, stages as all_stages


class Store(Protocol):
    def stored(self) -> dict[str, dict]:
        """Stage name -> the parameters its stored results were made with."""

    def load(self, stage: str) -> dict:
        """A stored stage's artifacts."""

    def save(self, stage: str, artifacts: dict, run: dict) -> None:
        """Replace a stage's stored results (one transaction)."""


def _call(stage: str, fn, *args):
    """Call a stage's code; any failure becomes a StageError naming the stage (a cancellation passes)."""
    try:
        return fn(*args)
    except Cancelled:
        raise
    except Exception as e:
        raise StageError(stage, e) from e


class StageError(Exception):
    """A stage raised: ``stage`` names it, ``__cause__`` is the original exception."""

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


@dataclass
class Decision:
    compute: list[Stage]  # in dependency order
    reuse: list[Stage]  # stored, read back when a computed stage needs them
    skip: list[Stage]  # planned but not needed now (stored, and nothing computed needs them)

    @property
    def nothing_to_do(self) -> bool:
        return not any(s.stored for s in self.compute)


def decide(order: Sequence[Stage], requested: set[str], resolved: dict[str, dict], stored: dict[str, dict],
           force: set[str], explicit: set[str]) -> Decision:
    """Which stages to compute: the forced ones; those not stored; those the user gave parameters
    for that differ from the stored ones; and everything stored that is built on a recomputed stage
    (results are replaced as a whole, never left pointing at replaced shots or faces)."""
    known = all_stages()
    by_name = {s.name: s for s in order}
    compute: set[str] = set()
    for st in order:
        if not st.stored:
            continue
        if st.name in force or st.name not in stored:
            compute.add(st.name)
        elif st.name in explicit and stored[st.name] != resolved[st.name]:
            compute.add(st.name)
    for name in dependents(compute):  # stored results built on what is recomputed
        st = known[name]
        if st.stored and (name in stored or name in by_name):
            compute.add(name)
            if name not in by_name:
                by_name[name] = st
    # unstored helper stages run only when something computed needs their artifacts
    need: set[str] = set()
    for name in compute:
        need |= set(known[name].requires)
    changed = True
    while changed:
        changed = False
        for st in by_name.values():
            if not st.stored and st.name not in compute and set(st.provides) & need:
                compute.add(st.name)
                need |= set(st.requires)
                changed = True
    ordered = _topological(list(by_name.values()))
    comp = [s for s in ordered if s.name in compute]
    needed = {a for s in comp for a in s.requires}
    reuse = [s for s in ordered if s.name not in compute and set(s.provides) & needed and s.name in stored]
    skip = [s for s in ordered if s.name not in compute and s not in reuse]
    missing = [a for a in needed - {"video"} if not any(a in s.provides for s in comp + reuse)]
    if missing:
        raise ValueError(f"nothing provides {', '.join(sorted(missing))}")
    return Decision(comp, reuse, skip)


def _topological(stages: list[Stage]) -> list[Stage]:
    producer = {a: s.name for s in stages for a in s.provides}
    by_name = {s.name: s for s in stages}
    out: list[Stage] = []
    seen: set[str] = set()

    def visit(st: Stage) -> None:
        if st.name in seen:
            return
        seen.add(st.name)
        for need in st.requires:
            p = producer.get(need)
            if p is not None and p != st.name:
                visit(by_name[p])
        out.append(st)

    for s in stages:
        visit(s)
    return out


@dataclass
class Progress:
    """Overall progress of one video in work units (frames x stage cost), with the current stage."""
    callback: Callable[[str, int, int], None] | None
    total: int = 1
    done: int = 0
    stage: str = ""

    def set_total(self, total: int) -> None:
        self.total = max(1, int(total))

    def advance(self, units: float, stage: str | None = None) -> None:
        if stage is not None:
            self.stage = stage
        self.done = min(self.total, self.done + int(units))
        if self.callback:
            self.callback(self.stage, self.done, self.total)

    def at(self, units: int, stage: str) -> None:
        self.stage = stage
        self.done = min(self.total, max(self.done, int(units)))
        if self.callback:
            self.callback(self.stage, self.done, self.total)


@dataclass
class Result:
    runs: list[dict] = field(default_factory=list)  # what was computed and saved: {stage, seconds, ...}
    warnings: list[str] = field(default_factory=list)
    passes: int = 0  # decode passes over the video


def run_video(ctx: Context, decision: Decision, resolved: dict[str, dict], store: Store,
              progress: Callable[[str, int, int], None] | None = None) -> Result:
    """Compute ``decision.compute`` for one video, reading ``decision.reuse`` back from ``store``
    when needed, saving each stage when it finishes. Raises StageError naming the failing stage."""
    result = Result()
    available: set[str] = {"video"} | {a for a in ctx.artifacts}
    remaining = list(decision.compute)
    reuse = {a: s for s in decision.reuse for a in s.provides}
    loaded: set[str] = set()
    frames_hint = max(1, int(ctx.info.frame_count_hint))
    bar = Progress(progress)
    passes = _plan_passes(remaining, set(reuse) | available)
    bar.set_total(sum(frames_hint * (1 + sum(s.cost for s in p)) for p in passes)
                  + sum(frames_hint * s.cost for s in remaining if not s.frames))

    def ensure(names) -> None:
        for a in names:
            if a in available or a == "video":
                continue
            st = reuse.get(a)
            if st is not None and st.name not in loaded:
                loaded.add(st.name)
                try:
                    out = store.load(st.name)
                except Exception as e:
                    raise StageError(st.name, RuntimeError(f"cannot read the stored {st.name} results: {e}")) from e
                ctx.artifacts.update(out)
                available.update(out)
                available.update(st.provides)

    def finish_stage(st: Stage, out: dict, started: datetime, seconds: float) -> None:
        meta = out.pop("_run", {}) if isinstance(out, dict) else {}
        ctx.artifacts.update(out)
        available.update(out)
        available.update(st.provides)
        run = {"stage": st.name, "started_at": started, "seconds": seconds,
               "params": {**resolved[st.name], **(meta.get("params") or {}), "_requested": resolved[st.name],
                          "_stage_version": st.version},
               "models": meta.get("models") or {}}
        if result.warnings:
            run["params"]["_warnings"] = list(result.warnings)
        if st.stored:
            _call(st.name, store.save, st.name, ctx.artifacts, run)
        result.runs.append(run)

    while remaining:
        ready = [s for s in remaining if not s.frames and all(
            r in available or r in reuse for r in s.requires)]
        group = _next_pass(remaining, available | set(reuse))
        if group and "shots" not in available and any("shots" in s.provides for s in group):
            ready = []  # the pass that finds the shots goes first: it also proves the file decodes
        if ready:
            st = ready[0]
            ensure(st.requires)
            bar.advance(0, st.name)
            started, t0 = datetime.now(timezone.utc), time.perf_counter()
            out = _call(st.name, st.run, ctx, resolved[st.name])
            finish_stage(st, out, started, time.perf_counter() - t0)
            remaining.remove(st)
            bar.advance(frames_hint * st.cost)
            continue
        if not group:
            names = ", ".join(s.name for s in remaining)
            raise ValueError(f"cannot run {names}: their inputs are neither stored nor computed")
        for st in group:
            ensure(st.before)
            ensure(r for r in st.requires if r in reuse)
        # run stages marked concurrent (audio: its own decode and models) overlap the frame pass
        # in a thread; they are saved after the pass, so a file that fails to decode stores nothing
        side = [s for s in remaining if not s.frames and s.concurrent and s not in group
                and all(r in available for r in s.requires)]
        pool = futures = None
        if side:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelscope-stage")
            futures = [(st, datetime.now(timezone.utc), pool.submit(_timed, st, ctx, resolved[st.name]))
                       for st in side]
        try:
            _frame_pass(ctx, group, resolved, finish_stage, bar, result)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        result.passes += 1
        for st in group:
            remaining.remove(st)
        for st, started, fut in futures or []:
            out, seconds = fut.result()
            finish_stage(st, out, started, seconds)
            remaining.remove(st)
            bar.advance(frames_hint * st.cost)
    return result


def _timed(st: Stage, ctx: Context, params: dict):
    t0 = time.perf_counter()
    out = _call(st.name, st.run, ctx, params)
    return out, time.perf_counter() - t0


def _next_pass(remaining: list[Stage], available: set[str]) -> list[Stage]:
    """Frame stages that can share the next decode pass: their ``before`` inputs exist, and their
    other inputs exist or come from another stage of the same pass (finished earlier)."""
    group: list[Stage] = []
    provided = set(available)
    for st in remaining:  # dependency order
        if st.frames and all(b in available for b in st.before) and all(r in provided for r in st.requires):
            group.append(st)
            provided |= set(st.provides)
    return group


def _plan_passes(remaining: list[Stage], available: set[str]) -> list[list[Stage]]:
    """The frame passes the engine will make (for progress totals): simulated without running."""
    left = list(remaining)
    avail = set(available)
    passes = []
    while left:
        runs = [s for s in left if not s.frames and all(r in avail for r in s.requires)]
        if runs:
            for s in runs:
                avail |= set(s.provides)
                left.remove(s)
            continue
        group = _next_pass(left, avail)
        if not group:
            break
        passes.append(group)
        for s in group:
            avail |= set(s.provides)
            left.remove(s)
    return passes


def _frame_pass(ctx: Context, group: list[Stage], resolved: dict, finish_stage, bar: Progress,
                result: Result) -> None:
    consumers = []
    for st in group:
        try:
            consumers.append((st, _call(st.name, st.consumer, ctx, resolved[st.name])))
        except BaseException:
            _close(consumers)
            raise
    specs = tuple(dict.fromkeys(sp for _, c in consumers for sp in c.specs))
    lasts = [c.last for _, c in consumers]
    stop_after = None if any(x is None for x in lasts) else max(lasts, default=-1)
    quality = any(getattr(c, "quality", False) for _, c in consumers)
    label = " + ".join(st.name for st, _ in consumers)
    hint = max(1, int(ctx.info.frame_count_hint))
    weight = 1 + sum(st.cost for st, _ in consumers)
    base = bar.done
    wanted_by: dict[int, list] = {}

    def select(index: int, t: float):
        chosen = [(st, c) for st, c in consumers if (c.last is None or index <= c.last) and c.wants(index, t)]
        wanted_by[index] = chosen
        return tuple(dict.fromkeys(sp for _, c in chosen for sp in c.specs))

    stats = DecodeStats()
    seconds = {st.name: 0.0 for st, _ in consumers}
    started = datetime.now(timezone.utc)
    try:
        if stop_after is None or stop_after >= 0:
            for frame in iter_frames(ctx.path, specs, rotation=ctx.info.rotation, fast=not quality, stats=stats,
                                     fps=ctx.info.fps, select=select, stop_after=stop_after):
                for st, c in wanted_by.pop(frame.index, ()):
                    t0 = time.perf_counter()
                    _call(st.name, c.feed, frame)
                    seconds[st.name] += time.perf_counter() - t0
                if frame.index % 32 == 0:
                    bar.at(base + min(frame.index, hint) * weight, label)
        decoded = stats.frames
        if stop_after is None:  # the pass read the whole video: check it is complete
            warning = check_decoded(ctx.path, ctx.info, decoded, stats)
            if warning:
                result.warnings.append(warning)
            frame_count = decoded
        else:
            frame_count = int(ctx.artifacts.get("frame_count") or decoded)
        for st, c in consumers:  # dependency order: shots finish before the stages that need them
            t0 = time.perf_counter()
            out = _call(st.name, c.finish, ctx, frame_count)
            # a consumer working on its own thread (consumers.Worker) reports its own work time
            # (frames and finish): the time the engine waited for it would hide the overlap
            busy = getattr(c, "busy_seconds", None)
            spent = seconds[st.name] + time.perf_counter() - t0 if busy is None else busy
            finish_stage(st, out, started, spent)
    finally:
        _close(consumers)
    bar.at(base + hint * weight, label)


def _close(consumers) -> None:
    """Stop the worker threads of consumers that have them (finished or not)."""
    for _, c in consumers:
        close = getattr(c, "close", None)
        if close is not None:
            close()


def check_decoded(path: str, info, decoded: int, stats: DecodeStats) -> str | None:
    """Raise when nothing decoded or the file is truncated; a warning (with the decoded share) for
    damage in the middle. See ``media.integrity.check_complete``."""
    return check_complete(path, info, stats)
