"""Mood: image mood, music mood (and slideshows built on them), on one 8-mood circle.

    from reelscope.mood import ImageMoodPredictor, analyze_folder, analyze_track, MOODS
    ImageMoodPredictor().predict(rgb)            # MoodPrediction: mood, confidence, valence, arousal
    analyze_folder("music/", cache=cache)        # [MusicAnalysis]: tempo, beats, energy, mode, mood

See :mod:`reelscope.mood.circle` for the circle, :mod:`reelscope.mood.image_mood` for images,
:mod:`reelscope.mood.music` for music, :mod:`reelscope.mood.mood_train` for training. Heavy
modules are imported on first use of their names, not here.
"""
from reelscope.mood.circle import (MOODS, MoodPrediction, circular_distance, mood_angle,
                                   mood_from_va, mood_scores)

_LAZY = {"ImageMoodPredictor": "reelscope.mood.image_mood", "load_image": "reelscope.mood.image_mood",
         "analyze_track": "reelscope.mood.music", "analyze_folder": "reelscope.mood.music",
         "MusicAnalysis": "reelscope.mood.music", "train_mood": "reelscope.mood.mood_train",
         "load_labels": "reelscope.mood.mood_train"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reelscope.mood' has no attribute {name!r}")


__all__ = ["MOODS", "MoodPrediction", "circular_distance", "mood_angle", "mood_from_va", "mood_scores", *_LAZY]
