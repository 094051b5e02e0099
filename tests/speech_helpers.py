"""Shared by the speech tests: the real Whisper base model and espeak-ng sentences, or a clean skip."""
from __future__ import annotations

import numpy as np
import pytest


def whisper_model():
    """Whisper base loaded once per process, or skip (carrier packages or faster-whisper absent)."""
    from reelscope.errors import MissingDependency
    from reelscope.models.registry import ModelFileError
    from reelscope.models.whisper import load_whisper, whisper_dir

    pytest.importorskip("faster_whisper")
    try:
        whisper_dir("base")
    except (MissingDependency, ModelFileError) as e:
        pytest.skip(f"Whisper base not available: {e}")
    return load_whisper("base", threads=2)


def say(text: str, voice: str) -> np.ndarray:
    """16 kHz samples of espeak-ng speaking ``text``, or skip when espeak-ng is not installed."""
    from reelscope.eval.speech import have_espeak, synthesize

    if not have_espeak():
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    return synthesize(text, voice)
