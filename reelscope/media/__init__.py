"""Decoding, probing, audio extraction and timecodes (PyAV)."""
from reelscope.media.info import VideoInfo, probe
from reelscope.media.decode import Frame, FrameSpec, iter_frames
from reelscope.media.audio import extract_audio
from reelscope.media.timecode import frame_to_seconds, seconds_to_timecode

__all__ = ["VideoInfo", "probe", "Frame", "FrameSpec", "iter_frames", "extract_audio",
           "frame_to_seconds", "seconds_to_timecode"]
