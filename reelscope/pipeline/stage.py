"""Stages declare what they need and what they provide; the planner orders them.

Two kinds of stage:

- a **run stage** is a function ``run(ctx, params) -> {artifact: value}`` (audio, emotion,
  importance, mood, ...): it works from artifacts of earlier stages and, for audio, from
  ``ctx.audio_clip()`` (the sound track decoded once for every audio stage);
- a **frame stage** gives ``consumer(ctx, params) -> FrameConsumer``: the engine
  (``reelscope.pipeline.engine``) owns the decoding, and in one pass over the video feeds each
  consumer only the frames it asks for, already converted to the size and pixel format it
  declared. ``before`` names the artifacts a consumer needs before it sees frames (e.g. the
  shots, to sample frames inside each shot); everything else in ``requires`` is only needed
  at ``finish`` (a frame stage may finish after another consumer of the same pass).

Adding a capability means adding a module under ``reelscope/pipeline/stages/`` that calls
``register(Stage(...))`` plus, when its results are stored, a reader/writer module in
``reelscope/archive/`` (``*_io.py``); nothing else changes: the CLI (``--stages``, ``--set``),
the planner and the exports read the registry.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from reelscope.media.info import VideoInfo


class FrameConsumer(Protocol):
    """What a frame stage hands the engine (cf. a PySceneDetect detector under its SceneManager).

    ``specs``: the representations it needs (``media.decode.FrameSpec``: kind, width, height).
    ``wants(index, time)``: whether this frame is for it (called in the decode thread, so keep it
    a cheap rule: every frame, every n-th, every 1/fps seconds, a set of frames).
    ``last``: the last frame index it can want, or None for "to the end" (the pass stops
    decoding once every consumer is past its last frame).
    ``feed(frame)``: a ``media.decode.Frame`` holding ``frame[spec]`` for each of its specs.
    ``finish(ctx, frame_count)``: its artifacts (plus ``"_run": {"params", "models"}``).
    """
    specs: Sequence
    last: int | None

    def wants(self, index: int, time: float) -> bool: ...

    def feed(self, frame) -> None: ...

    def finish(self, ctx: "Context", frame_count: int) -> dict: ...


@dataclass
class Context:
    path: str
    info: VideoInfo
    artifacts: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)
    _audio: Any = field(default=None, repr=False)
    _audio_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report(self, stage: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        return lambda done, total: self.progress(stage, done, total)

    def audio_clip(self):
        """The first audio stream at 16 kHz (stereo kept when the source has two or more channels),
        decoded once per video for every audio stage; None when the file has no audio stream."""
        with self._audio_lock:
            if self._audio is None:
                from reelscope.media.audio import read_audio
                from reelscope.media.info import open_container

                container = open_container(self.path)
                try:
                    has = bool(container.streams.audio)
                finally:
                    container.close()
                self._audio = read_audio(self.path, 16000, "auto") if has else False
            return self._audio or None


@dataclass(frozen=True)
class Stage:
    name: str
    requires: tuple[str, ...]
    provides: tuple[str, ...]
    run: Callable[[Context, dict], dict] | None = None
    defaults: dict = field(default_factory=dict)
    version: str = "1"
    description: str = ""
    consumer: Callable[[Context, dict], FrameConsumer] | None = None  # frame stages
    before: tuple[str, ...] = ()  # artifacts a consumer needs before the pass (subset of requires)
    stored: bool = True  # results go to the archive (and can be read back from it)
    default: bool = True  # part of the default full analysis (False: needs a user-supplied model)
    cost: float = 1.0  # rough relative cost, for progress and ETA across stages
    check: Callable[[dict], None] | None = None  # raises ValueError for bad parameters, before any file
    concurrent: bool = False  # a run stage that may overlap a frame pass in a thread (its own inputs)

    def __post_init__(self):
        if (self.run is None) == (self.consumer is None):
            raise ValueError(f"stage {self.name!r}: give exactly one of run= or consumer=")
        if set(self.before) - set(self.requires):
            raise ValueError(f"stage {self.name!r}: before= must be a subset of requires=")

    @property
    def frames(self) -> bool:
        return self.consumer is not None

    def resolve_params(self, given: dict | None) -> dict:
        params = dict(self.defaults)
        for k, v in (given or {}).items():
            if k not in self.defaults:
                raise ValueError(f"stage {self.name!r} has no parameter {k!r} "
                                 f"(known: {', '.join(sorted(self.defaults)) or 'none'})")
            params[k] = v
        if self.check is not None:
            self.check(params)
        return params


_REGISTRY: dict[str, Stage] = {}
_loaded = False

# presets for --stages: "fast" (shots and keyframes), "default" (every stage that needs no
# user-supplied model), "all" (every registered stage)
PRESETS = ("fast", "default", "all")


def register(stage: Stage) -> Stage:
    _REGISTRY[stage.name] = stage
    return stage


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import reelscope.pipeline.stages as pkg
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")


def stages() -> dict[str, Stage]:
    _load_builtin()
    return dict(_REGISTRY)


def get_stage(name: str) -> Stage:
    known = stages()
    if name not in known:
        raise ValueError(f"unknown stage {name!r}; known stages: {', '.join(sorted(known))} "
                         f"(or a preset: {', '.join(PRESETS)})")
    return known[name]


def expand(names: Sequence[str] | str | None) -> list[str]:
    """Stage names with presets expanded: None/"" -> the default analysis."""
    if names is None:
        names = ["default"]
    if isinstance(names, str):
        names = [x.strip() for x in names.split(",") if x.strip()]
    known = stages()
    out: list[str] = []
    for n in names or ["default"]:
        if n == "fast":
            out += ["shots", "keyframes"]
        elif n == "default":
            out += [s.name for s in known.values() if s.default]
        elif n == "all":
            out += list(known)
        else:
            get_stage(n)
            out.append(n)
    return list(dict.fromkeys(out))


def producers() -> dict[str, Stage]:
    return {a: s for s in stages().values() for a in s.provides}


def plan(requested: list[str]) -> list[Stage]:
    """The requested stages plus whatever they need, in dependency order."""
    producer = producers()
    order: list[Stage] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in chain:
            raise ValueError(f"stage dependency cycle: {' -> '.join(chain + (name,))}")
        st = get_stage(name)
        for need in st.requires:
            if need == "video":
                continue
            if need not in producer:
                raise ValueError(f"stage {name!r} needs {need!r}, which no stage provides")
            visit(producer[need].name, chain + (name,))
        seen.add(name)
        order.append(st)

    for r in expand(requested):
        visit(r, ())
    return order


def dependents(names: set[str]) -> set[str]:
    """Every stage that (transitively) uses an artifact of one of ``names``."""
    known = stages()
    out = set(names)
    changed = True
    while changed:
        changed = False
        for s in known.values():
            if s.name in out:
                continue
            provided = {a for n in out for a in known[n].provides}
            if provided & set(s.requires):
                out.add(s.name)
                changed = True
    return out - set(names)


def parse_sets(items: Sequence[str]) -> dict[str, dict]:
    """``["faces.detector=hog", "objects.sample_fps=1"]`` -> ``{"faces": {"detector": "hog"}, ...}``;
    values are JSON when they parse as JSON (numbers, true/false, lists), else strings."""
    import json

    out: dict[str, dict] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        stage, dot, param = key.strip().partition(".")
        if not sep or not dot or not stage or not param:
            raise ValueError(f"--set {item!r}: use STAGE.PARAM=VALUE, e.g. faces.detector=hog")
        st = get_stage(stage)
        if param not in st.defaults:
            raise ValueError(f"--set {item!r}: stage {stage!r} has no parameter {param!r} "
                             f"(known: {', '.join(sorted(st.defaults)) or 'none'})")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(stage, {})[param] = value
    return out
