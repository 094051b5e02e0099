"""Analysis graph: stages with declared inputs/outputs, and the local executor."""
from reelscope.pipeline.stage import Context, Stage, get_stage, plan, register, stages

__all__ = ["Context", "Stage", "get_stage", "plan", "register", "stages"]
