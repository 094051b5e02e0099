"""What a batch analyses: files, folders (recursive, video extensions), glob patterns, and manifests
(CSV with a ``path`` column, or JSON Lines with a ``path`` key) whose rows may carry per-video
``stages`` and parameters (``set``: ["faces.detector=hog", ...] or ``params``: {stage: {...}})."""
from __future__ import annotations

import csv
import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                    ".wmv", ".flv", ".ogv", ".3gp", ".gif", ".mxf", ".dv", ".vob"}
MANIFEST_EXTENSIONS = {".csv", ".jsonl", ".ndjson"}


@dataclass
class Source:
    path: str
    stages: list[str] | None = None  # None: the batch's stages
    params: dict = field(default_factory=dict)  # stage -> {param: value}, on top of the batch's


class SourceError(ValueError):
    pass


def _row_params(row: dict, where: str) -> tuple[list[str] | None, dict]:
    from reelscope.pipeline.stage import parse_sets

    stages = row.get("stages") or None
    if isinstance(stages, str):
        stages = [x.strip() for x in stages.replace(";", ",").split(",") if x.strip()] or None
    params: dict = {}
    sets = row.get("set") or []
    if isinstance(sets, str):
        sets = [x.strip() for x in sets.split(";") if x.strip()]
    try:
        params = parse_sets(sets)
    except ValueError as e:
        raise SourceError(f"{where}: {e}") from None
    extra = row.get("params") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise SourceError(f"{where}: params is not JSON: {extra!r}") from None
    if not isinstance(extra, dict):
        raise SourceError(f"{where}: params must be an object of stage -> parameters")
    for stage, values in extra.items():
        params.setdefault(stage, {}).update(values or {})
    return stages, params


def read_manifest(path: Path) -> list[Source]:
    base = path.parent
    out = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise SourceError(f"{path}: a manifest CSV needs a 'path' column")
            rows = [(i + 2, r) for i, r in enumerate(reader)]
    else:
        rows = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise SourceError(f"{path}:{i}: not JSON ({e})") from None
                if not isinstance(r, dict) or "path" not in r:
                    raise SourceError(f"{path}:{i}: each line needs a \"path\"")
                rows.append((i, r))
    for line, r in rows:
        p = Path(str(r["path"]).strip()).expanduser()
        if not p.is_absolute():
            p = base / p
        stages, params = _row_params(r, f"{path}:{line}")
        out.append(Source(str(p), stages, params))
    return out


def expand_sources(items: list[str | Path]) -> list[Source]:
    """Every video named by ``items``, in order, each once. A missing plain path is kept (the
    analysis reports it as a failure, like `analyze` does); a pattern matching nothing is an error."""
    out: list[Source] = []
    seen: set[str] = set()

    def add(src: Source) -> None:
        key = str(Path(src.path).resolve()) if Path(src.path).exists() else src.path
        if key not in seen:
            seen.add(key)
            out.append(src)

    for item in items:
        s = str(item)
        p = Path(s).expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS:
                    add(Source(str(f)))
        elif p.is_file() and p.suffix.lower() in MANIFEST_EXTENSIONS:
            for src in read_manifest(p):
                add(src)
        elif any(c in s for c in "*?[") and not p.exists():
            matches = sorted(glob.glob(s, recursive=True))
            files = [m for m in matches if Path(m).is_file()]
            if not files:
                raise SourceError(f"{s}: the pattern matches no file")
            for m in files:
                add(Source(m))
        else:
            add(Source(str(p)))
    return out
