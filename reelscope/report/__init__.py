"""Reports: a self-contained HTML page per video (keyframes, shot lengths, transitions),
built only from the archive's JSON export vocabulary (``reelscope.archive.export``)."""
