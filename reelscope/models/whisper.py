"""Whisper speech-to-text models (CTranslate2 format, run by faster-whisper): check, join, load.

The weights come from carrier packages that split ``model.bin`` in two (see the registry's
WHISPER_BASE / WHISPER_SMALL). Before joining, the parts are read as one file and the CTranslate2
tensor table is walked: every tensor must lie inside the joined size, so a carrier that holds
only part of a model is refused with one line that says so, instead of a crash inside the
runtime. The joined folder (``<models folder>/whisper-<size>/``) is what faster-whisper loads.

Models load once per process (``load_whisper``), keyed by size, device, compute type and threads.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from reelscope.errors import MissingDependency
from reelscope.models.registry import WHISPER_BASE, WHISPER_SMALL, ModelFileError, ModelSpec, materialize

SIZES: dict[str, ModelSpec] = {"base": WHISPER_BASE, "small": WHISPER_SMALL}
# CPU compute types CTranslate2 offers for a float16 model (weights converted once at load)
COMPUTE_TYPES = ("int8", "int8_float32", "float32", "int16", "float16", "int8_float16", "default")
NEEDED = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")  # what faster-whisper reads


class _Joined:
    """Read-only view of several files as one (seek + read), without joining them on disk."""

    def __init__(self, paths: list[Path]):
        self.files = [open(p, "rb") for p in paths]
        self.sizes = [os.path.getsize(p) for p in paths]
        self.size = sum(self.sizes)
        self.pos = 0

    def close(self) -> None:
        for f in self.files:
            f.close()

    def seek(self, pos: int) -> None:
        self.pos = pos

    def read(self, n: int) -> bytes:
        out = b""
        base = 0
        for f, size in zip(self.files, self.sizes):
            if n <= 0:
                break
            if self.pos < base + size:
                f.seek(self.pos - base)
                chunk = f.read(min(n, base + size - self.pos))
                out += chunk
                self.pos += len(chunk)
                n -= len(chunk)
            base += size
        return out


def ct2_layout(paths: list[Path]) -> dict:
    """Walk the CTranslate2 ``model.bin`` header and tensor table across ``paths`` joined in order:
    {spec, tensors, complete, size, needed, first_missing} (``needed``: bytes the table reaches to
    before it stops, ``first_missing``: the index and name of the first tensor that does not fit)."""
    f = _Joined([Path(p) for p in paths])
    try:
        def take(fmt: str):
            n = struct.calcsize(fmt)
            raw = f.read(n)
            if len(raw) < n:
                raise EOFError
            return struct.unpack(fmt, raw)

        def name() -> str:
            (n,) = take("<H")
            raw = f.read(n)
            if len(raw) < n:
                raise EOFError
            return raw.rstrip(b"\0").decode("utf-8", "replace")

        try:
            (version,) = take("<I")
            if not 1 <= version <= 100:
                raise ModelFileError(paths[0], f"not a CTranslate2 model (header version {version})")
            spec = name() if version >= 2 else ""
            if version >= 3:
                take("<I")  # spec revision
            (count,) = take("<I")
        except EOFError:
            raise ModelFileError(paths[0], "not a CTranslate2 model (file too short for its header)") from None
        for i in range(count):
            try:
                vname = name()
                (rank,) = take("<B")
                take(f"<{rank}I")  # shape
                take("<B")  # dtype
                (nbytes,) = take("<I")
            except EOFError:
                return {"spec": spec, "tensors": count, "complete": False, "size": f.size, "needed": f.pos + 1,
                        "first_missing": (i, "?")}
            end = f.pos + nbytes
            if end > f.size:
                return {"spec": spec, "tensors": count, "complete": False, "size": f.size, "needed": end,
                        "first_missing": (i, vname)}
            f.seek(end)
        return {"spec": spec, "tensors": count, "complete": True, "size": f.size, "needed": f.pos,
                "first_missing": None}
    finally:
        f.close()


def check_ct2_parts(paths: list[Path]) -> None:
    """Raise ModelFileError (one line) unless ``paths`` joined are a whole CTranslate2 model."""
    lay = ct2_layout(paths)
    if not lay["complete"]:
        i, vname = lay["first_missing"]
        raise ModelFileError(paths[0], f"the {len(paths)} published parts join to {lay['size']:,} bytes, but the "
                             f"model's tensor table runs past that (tensor {i} of {lay['tensors']}, {vname}, "
                             f"needs {lay['needed']:,} bytes): the carrier packages hold only part of the model")


def whisper_dir(size: str = "base") -> Path:
    """The verified folder faster-whisper loads for ``size`` (joined on first use)."""
    spec = SIZES.get(size)
    if spec is None:
        raise ValueError(f"unknown Whisper model {size!r} (known: {', '.join(SIZES)})")
    folder = materialize(spec, check_parts=check_ct2_parts)
    missing = [n for n in NEEDED if not (folder / n).is_file()]
    if missing:
        raise ModelFileError(folder, f"{spec.name} has no {', '.join(missing)} (its carrier packages "
                             f"{spec.version} do not ship them)")
    return folder


def model_info(size: str = "base") -> dict[str, dict[str, str]]:
    """What a run records about the model: per file its licence, sha256 and version."""
    spec = SIZES[size]
    return {f"{spec.name}/{name}": {"licence": spec.licence, "sha256": sha, "version": spec.version}
            for name, sha in spec.files.items()}


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def load_whisper(size: str = "base", *, compute_type: str = "int8", threads: int | None = None,
                 device: str = "cpu"):
    """A ``faster_whisper.WhisperModel`` for ``size``, loaded once per process per settings
    (through the process's model cache, ``models.cache.MODELS``)."""
    from reelscope.models.cache import MODELS

    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"unknown compute type {compute_type!r} (known: {', '.join(COMPUTE_TYPES)})")
    threads = int(threads) if threads else default_threads()

    def load():
        folder = whisper_dir(size)
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise MissingDependency("faster-whisper (speech to text)", "pip install faster-whisper") from e
        return WhisperModel(str(folder), device=device, compute_type=compute_type, cpu_threads=threads,
                            num_workers=1, local_files_only=True)

    return MODELS.get("ctranslate2:whisper", size, {"device": device, "compute_type": compute_type,
                                                    "threads": threads}, load)
