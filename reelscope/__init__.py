"""reelscope: turn video into structured, searchable knowledge.

    import reelscope
    results = reelscope.analyze(["film.mp4"], archive="my-archive",
                                stages=["shots", "keyframes", "faces", "shot_size", "objects", "tags"])
    arch = reelscope.open_archive("my-archive")
    hits = reelscope.search(arch, "close-up of Anna smiling")
    summary = reelscope.summarize(arch, "film.mp4", "60s")      # needs the importance stage
    plan = reelscope.plan_slideshow(["photos/"], "music/")     # then reelscope.render_slideshow(plan, "out.mp4")
"""
__version__ = "0.1.0"


def analyze(*args, **kwargs):
    from reelscope.analysis import analyze as _analyze
    return _analyze(*args, **kwargs)


def open_archive(location=None, db_url=None):
    from reelscope.archive import Archive
    return Archive(location, db_url)


def summarize(archive, video, length="15%", **kwargs):
    from reelscope.summaries import create_summary
    return create_summary(archive, video, length, **kwargs)


def plan_slideshow(*args, **kwargs):
    from reelscope.slideshow import plan_slideshow as _plan
    return _plan(*args, **kwargs)


def render_slideshow(*args, **kwargs):
    from reelscope.slideshow import render_slideshow as _render
    return _render(*args, **kwargs)


def __getattr__(name: str):
    # ``reelscope.search(archive, query, limit=50, offset=0)`` is the package reelscope.search,
    # which is callable (a function of that name here would be replaced by the package the
    # first time it is imported)
    if name == "search":
        import importlib
        return importlib.import_module("reelscope.search")
    raise AttributeError(f"module 'reelscope' has no attribute {name!r}")


__all__ = ["analyze", "open_archive", "search", "summarize", "plan_slideshow", "render_slideshow", "__version__"]
