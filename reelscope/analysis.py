"""Analyze videos into the archive: probe, run the planned stages, store in one transaction.

A file that fails (missing, empty, not a video, truncated, ...) is reported with one line
naming it and the problem; nothing is written for it and the other files go on. A video
whose requested stages are already stored with the same parameters is skipped, so an
interrupted batch resumes where it stopped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from reelscope.archive import Archive
from reelscope.errors import ReelscopeError
from reelscope.media.info import probe
from reelscope.pipeline import Context, plan

DEFAULT_STAGES = ("shots", "keyframes")


@dataclass
class Outcome:
    path: str
    status: str  # analyzed | skipped | failed
    video_id: int | None = None
    error: str | None = None
    shots: int = 0
    transitions: int = 0
    seconds: float = 0.0
    artifacts: dict = field(default_factory=dict, repr=False)


def _as_archive(archive) -> Archive:
    return archive if isinstance(archive, Archive) else Archive(archive)


def analyze(paths: str | Path | Iterable[str | Path], archive: Archive | str | Path | None = None,
            stages: Iterable[str] = DEFAULT_STAGES, params: dict[str, dict] | None = None, force: bool = False,
            progress: Callable[[str, str, int, int], None] | None = None) -> list[Outcome]:
    """Analyze each video in ``paths`` into ``archive``; returns one Outcome per path.

    ``params`` maps stage name -> parameters (e.g. ``{"shots": {"detector": "transnetv2"}}``).
    ``progress(path, stage, done, total)`` is called as frames are processed.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    arch = _as_archive(archive)
    params = params or {}
    order = plan(list(stages))
    unknown = set(params) - {s.name for s in order}
    if unknown:
        raise ValueError(f"parameters given for stages that do not run: {', '.join(sorted(unknown))}")
    resolved = {st.name: st.resolve_params(params.get(st.name)) for st in order}
    requested = set(stages)
    outcomes = []
    for p in paths:
        outcomes.append(_analyze_one(str(p), arch, order, requested, resolved, force, progress))
    return outcomes


def _analyze_one(path: str, arch: Archive, order, requested, resolved, force, progress) -> Outcome:
    t0 = time.perf_counter()
    try:
        info = probe(path)
        done = arch.completed(info.fingerprint)
        stored = {st.name: done.get(st.name, {}).get("_requested") == resolved[st.name] for st in order}
        if not force and all(stored[st.name] for st in order if st.name in requested):
            v = arch.find(info.fingerprint)
            return Outcome(path, "skipped", v.id if v else None)
        cb = (lambda stage, d, total: progress(path, stage, d, total)) if progress else None
        ctx = Context(path=path, info=info, progress=cb)
        runs = []
        for st in order:
            started = datetime.now(timezone.utc)
            ts = time.perf_counter()
            out = st.run(ctx, resolved[st.name])
            meta = out.pop("_run", {})
            ctx.artifacts.update(out)
            if st.name not in requested and stored[st.name] and not force:
                continue  # a dependency recomputed for its artifacts: the stored results stand
            runs.append({"stage": st.name, "started_at": started, "seconds": time.perf_counter() - ts,
                         "params": {"_requested": resolved[st.name], **(meta.get("params") or {})},
                         "models": meta.get("models") or {}})
        vid = arch.save(info, ctx.artifacts, runs)
        a = ctx.artifacts
        return Outcome(path, "analyzed", vid, shots=len(a.get("shots") or []),
                       transitions=len(a.get("transitions") or []), seconds=time.perf_counter() - t0,
                       artifacts=a)
    except ReelscopeError as e:
        return Outcome(path, "failed", error=str(e), seconds=time.perf_counter() - t0)
