"""Analyze videos into the archive with the engine (``reelscope.pipeline.engine``).

Per video: probe, make sure its row exists, decide which stages to compute and which stored ones
to read back, run them (one decode pass, two where stages sample inside shots), and commit each
stage as it finishes. A killed analysis keeps its finished stages and the rerun goes on with the
next one. Any exception while analysing a file becomes one line (``PATH: problem``), the
traceback goes to the archive's log (``ARCHIVE/logs/analysis.log``), the failure is recorded in
the archive (``Archive.failures()``), and the other files go on.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from reelscope.archive import Archive
from reelscope.errors import Cancelled, MediaError, ReelscopeError
from reelscope.media.info import probe
from reelscope.models.cache import configure_threads
from reelscope.pipeline.engine import StageError, decide, run_video
from reelscope.pipeline.stage import Context, expand, plan

DEFAULT_STAGES = ("default",)
log = logging.getLogger("reelscope.analysis")


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
    stage: str | None = None  # the stage that failed
    computed: list[str] = field(default_factory=list)  # stages computed (and stored) this time
    reused: list[str] = field(default_factory=list)  # stored stages read back
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    passes: int = 0
    detail: str | None = field(default=None, repr=False)  # traceback of a failure
    duration: float = 0.0  # seconds of video


def _as_archive(archive) -> Archive:
    return archive if isinstance(archive, Archive) else Archive(archive)


class _ArchiveStore:
    """The engine's Store protocol over one video of the archive. The video's row is created (in
    its own commit) just before the first stage is saved, so a file that fails before any stage
    finishes leaves nothing behind."""

    def __init__(self, arch: Archive, info):
        self.arch, self.info = arch, info
        v = arch.find(info.fingerprint)
        self.video_id = v.id if v is not None else None

    def stored(self) -> dict[str, dict]:
        from reelscope.pipeline.stage import stages

        if self.video_id is None:
            return {}
        known = stages()
        out = {}
        for name, r in self.arch.stored_runs(self.video_id).items():
            st = known.get(name)
            params = r.params or {}
            if st is None or str(params.get("_stage_version", "1")) != str(st.version):
                continue  # made by another version of the stage: not reusable
            out[name] = params.get("_requested", {})
        return out

    def load(self, stage: str) -> dict:
        return self.arch.load_stage(self.video_id, stage)

    def save(self, stage: str, artifacts: dict, run: dict) -> None:
        if self.video_id is None:
            self.video_id = self.arch.ensure_video(self.info, artifacts.get("frame_count"))
        else:
            self.arch.ensure_video(self.info)  # the file's facts (path, size) as they are now
        self.arch.save_stage(self.video_id, stage, artifacts, run)


def analyze(paths: str | Path | Iterable[str | Path], archive: Archive | str | Path | None = None,
            stages: Iterable[str] | str | None = DEFAULT_STAGES, params: dict[str, dict] | None = None,
            force: bool | Iterable[str] = False,
            progress: Callable[[str, str, int, int], None] | None = None) -> list[Outcome]:
    """Analyze each video in ``paths`` into ``archive``; returns one Outcome per path.

    ``stages``: stage names and presets (``fast``, ``default``, ``all``); the default analysis runs
    every stage that needs no user-supplied model. ``params`` maps stage name -> parameters (e.g.
    ``{"shots": {"detector": "transnetv2"}}``); a stored stage whose parameters differ from given
    ones is recomputed. ``force``: True (every planned stage) or stage names to recompute; what
    is built on them is recomputed too. ``progress(path, stage, done, total)``: overall work units
    of the video and the stage running now.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    configure_threads()  # once per process: every model runtime uses it ($REELSCOPE_THREADS overrides)
    arch = _as_archive(archive)
    params = params or {}
    wanted = expand(list(stages) if not isinstance(stages, str) and stages is not None else stages)
    order = plan(wanted)
    unknown = set(params) - {s.name for s in order}
    if unknown:
        raise ValueError(f"parameters given for stages that do not run: {', '.join(sorted(unknown))}")
    resolved = {st.name: st.resolve_params(params.get(st.name)) for st in order}
    if force is True:
        forced = {s.name for s in order}
    elif not force:
        forced = set()
    else:
        forced = set(expand(list(force)))
    explicit = {k for k, v in params.items() if v}
    outcomes = []
    for p in paths:
        outcomes.append(analyze_one(str(p), arch, order, set(wanted), resolved, forced, explicit, progress))
    return outcomes


def analyze_one(path: str, arch: Archive, order, requested: set[str], resolved: dict, forced: set[str],
                explicit: set[str], progress=None) -> Outcome:
    t0 = time.perf_counter()
    info = None
    try:
        info = probe(path)
        store = _ArchiveStore(arch, info)
        decision = decide(order, requested, resolved, store.stored(), forced, explicit)
        if decision.nothing_to_do:
            arch.clear_failure(path)
            return Outcome(path, "skipped", store.video_id, seconds=time.perf_counter() - t0, duration=info.duration,
                           reused=[s.name for s in decision.reuse + decision.skip if s.stored])
        cb = (lambda stage, d, total: progress(path, stage, d, total)) if progress else None
        ctx = Context(path=path, info=info)
        res = run_video(ctx, decision, resolved, store, progress=cb)
        arch.clear_failure(path)
        a = ctx.artifacts
        return Outcome(path, "analyzed", store.video_id, shots=len(a.get("shots") or []),
                       transitions=len(a.get("transitions") or []), seconds=time.perf_counter() - t0,
                       artifacts=a, computed=[r["stage"] for r in res.runs if _stored(r["stage"])],
                       reused=[s.name for s in decision.reuse], warnings=res.warnings,
                       stage_seconds={r["stage"]: r["seconds"] for r in res.runs}, passes=res.passes,
                       duration=info.duration)
    except Cancelled:
        raise
    except Exception as e:  # skip and log: one line here, the traceback in the log
        stage = e.stage if isinstance(e, StageError) else None
        cause = e.error if isinstance(e, StageError) else e
        message = one_line(path, cause, stage)
        detail = traceback.format_exc()
        _log_failure(arch, message, detail)
        try:
            arch.record_failure(path, message, fingerprint=info.fingerprint if info else None, stage=stage,
                                detail=detail, stages=sorted(requested),
                                params={k: v for k, v in resolved.items() if k in explicit})
        except Exception:  # the archive itself is failing: the line and the log still say why
            log.exception("cannot record the failure of %s", path)
        return Outcome(path, "failed", error=message, stage=stage, seconds=time.perf_counter() - t0, detail=detail)


def _stored(name: str) -> bool:
    from reelscope.pipeline.stage import stages
    st = stages().get(name)
    return bool(st and st.stored)


def one_line(path: str, error: BaseException, stage: str | None = None) -> str:
    """``PATH: problem`` on one line; media errors already name their file."""
    if isinstance(error, MediaError):
        text = str(error)
    else:
        msg = str(error).strip().splitlines()[0] if str(error).strip() else ""
        kind = "" if isinstance(error, (ReelscopeError, ValueError)) else f"{type(error).__name__}: "
        where = f"{stage} stage failed: " if stage else ""
        text = f"{path}: {where}{kind}{msg}".rstrip(": ")
    return " ".join(text.split())


def _log_failure(arch: Archive, message: str, detail: str) -> None:
    try:
        folder = Path(arch.location) / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "analysis.log", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} error: {message}\n{detail}\n")
    except OSError:
        pass
    log.debug("analysis failed: %s\n%s", message, detail)


def log_path(arch: Archive) -> Path:
    return Path(arch.location) / "logs" / "analysis.log"
