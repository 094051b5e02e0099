"""Story-level analysis over a video's time: emotion curves, importance, highlight summaries."""
