"""Audio analysis: voice activity, loudness (EBU R128), frame features, speech/music/silence
segments and an arousal curve. ``analyze_audio`` (reelscope.audio.analyze) runs them all."""
