"""Analysis graph: stages with declared inputs/outputs, and the local executor.

The stage registry functions live in ``reelscope.pipeline.stage`` (``stages()``, ``plan``, ...);
``reelscope.pipeline.stages`` is the package of built-in stage modules.
"""
from reelscope.pipeline.stage import Context, Stage, get_stage, plan, register

__all__ = ["Context", "Stage", "get_stage", "plan", "register"]
