"""Stages declare what they need and what they provide; the planner orders them.

A stage is a function ``(ctx, params) -> {artifact: value}``. Adding a capability means
adding a module under ``reelscope/pipeline/stages/`` that calls ``register(Stage(...))``;
nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from reelscope.media.info import VideoInfo


@dataclass
class Context:
    path: str
    info: VideoInfo
    artifacts: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)

    def report(self, stage: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        return lambda done, total: self.progress(stage, done, total)


@dataclass(frozen=True)
class Stage:
    name: str
    requires: tuple[str, ...]
    provides: tuple[str, ...]
    run: Callable[[Context, dict], dict]
    defaults: dict = field(default_factory=dict)
    version: str = "1"
    description: str = ""

    def resolve_params(self, given: dict | None) -> dict:
        params = dict(self.defaults)
        for k, v in (given or {}).items():
            if k not in self.defaults:
                raise ValueError(f"stage {self.name!r} has no parameter {k!r} "
                                 f"(known: {', '.join(sorted(self.defaults)) or 'none'})")
            params[k] = v
        return params


_REGISTRY: dict[str, Stage] = {}
_loaded = False


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
        raise ValueError(f"unknown stage {name!r}; known stages: {', '.join(sorted(known))}")
    return known[name]


def plan(requested: list[str]) -> list[Stage]:
    """The requested stages plus whatever they need, in dependency order."""
    known = stages()
    producer = {a: s for s in known.values() for a in s.provides}
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

    for r in requested:
        visit(r, ())
    return order
