"""The built-in kinds of job: analysis of a video, a highlight summary, a slideshow. Each handler
calls the library with a progress callback (reelscope.api.jobs.JobContext.progress) and returns
a Finish; the runner stores it."""
from __future__ import annotations

from pathlib import Path

from reelscope.api.jobs import FAILED, PLANNED, Finish, JobContext, register

SLIDESHOWS = "slideshows"  # ARCHIVE/slideshows/<job id>.mp4


# ---- analysis -----------------------------------------------------------------------------------
def _stored_path(archive, path: str) -> str | None:
    """Where the archive has this file's video now (by content fingerprint), if it has it."""
    from reelscope.media.info import fingerprint

    try:
        v = archive.find(fingerprint(path))
    except OSError:
        return None
    return v.path if v is not None else None


@register("analysis", "Analysis")
def analysis(ctx: JobContext) -> Finish:
    from reelscope.analysis import analyze

    r = ctx.request
    before = _stored_path(ctx.archive, r["path"]) if ctx.job.upload else None

    def progress(_path: str, stage: str, done: int, total: int) -> None:  # overall work units of the video
        ctx.progress(stage, done, total)

    (o,) = analyze([r["path"]], ctx.archive, stages=r["stages"], params=r.get("params") or {},
                   force=r.get("force", False), progress=progress)
    if o.status == "failed":
        return Finish(FAILED, error=ctx.runner.sentence(ctx.job, o.error or "failed", getattr(o, "stage", None)),
                      detail=getattr(o, "detail", None))
    result = {"outcome": o.status, "shots": o.shots, "transitions": o.transitions}
    if getattr(o, "warnings", None):
        result["warnings"] = list(o.warnings)
    analysed = o.status == "analyzed"
    if analysed and before and before != _stored_path(ctx.archive, r["path"]):
        ctx.runner.release_upload(before)  # a forced re-upload: the video now lives in the new upload
    return Finish(video_id=o.video_id, result=result, keep_upload=analysed)


# ---- summaries ----------------------------------------------------------------------------------
@register("summary", "Summary")
def summary(ctx: JobContext) -> Finish:
    from reelscope.summaries import create_summary

    r = ctx.request
    ctx.progress("plan", 0, 1, 0.0)
    row = create_summary(ctx.archive, r["video_id"], r["length"], render=r.get("render", True),
                         crossfade=r["crossfade"], max_height=r["max_height"], options=r.get("options") or {},
                         progress=lambda d, t: ctx.progress("render", d, t))
    return Finish(video_id=r["video_id"], result={"summary_id": row.id, "seconds": round(row.seconds, 3),
                                                  "media": row.media})


# ---- slideshows ---------------------------------------------------------------------------------
_PHASES = {True: {"images": (0.0, 0.35), "music": (0.35, 0.5), "render": (0.5, 1.0)},
           False: {"images": (0.0, 0.7), "music": (0.7, 1.0)}}


@register("slideshow", "Slideshow")
def slideshow(ctx: JobContext) -> Finish:
    from reelscope.slideshow import plan_slideshow, render_slideshow

    r = ctx.request
    job = ctx.job
    plan_obj = ctx.runner.cache.get(job.id)
    render = bool(r.get("render", True))
    spans = {"render": (0.0, 1.0)} if plan_obj is not None else _PHASES[render]

    def progress(phase: str, done: int, total: int) -> None:
        a, b = spans.get(phase, (0.0, 1.0))
        ctx.progress(phase, done, total, a + (b - a) * (done / total if total else 0.0))

    result = dict(job.result or {})
    if plan_obj is None:
        p = r["plan"]
        plan_obj = plan_slideshow(p.get("pictures") or [], p["music"], archive=ctx.archive, video=p.get("video_id"),
                                  character=p.get("character"), length=p.get("length"),
                                  per_image=p.get("per_image"), order=p.get("order", "mood"),
                                  music_floor=p.get("music_dip", 0.35), progress=progress)
        plan = plan_obj.to_dict()
        if job.upload:  # people see their file names, not the server's folder
            prefix = job.upload.rstrip("/") + "/"
            plan["errors"] = [e.replace(prefix, "") for e in plan["errors"]]
        result["plan"] = plan
        ctx.runner.cache[job.id] = plan_obj
    if not render:
        return Finish(PLANNED, result=result)
    ctx.check()
    folder = Path(ctx.archive.location) / SLIDESHOWS
    folder.mkdir(parents=True, exist_ok=True)
    opts = dict(r.get("render_options") or {})
    size = opts.pop("size", "720p")
    out = folder / f"{job.id}.mp4"
    res = render_slideshow(plan_obj, out, size, progress=progress, **opts)
    result["render"] = {"width": res.width, "height": res.height, "fps": res.fps, "frames": res.frames,
                        "duration": res.duration, "seconds": round(res.seconds, 2), "bytes": out.stat().st_size}
    result["output"] = f"{SLIDESHOWS}/{job.id}.mp4"
    return Finish(result=result)
