"""reelscope: turn video into structured, searchable knowledge.

    import reelscope
    results = reelscope.analyze(["film.mp4"], archive="my-archive")
"""
__version__ = "0.1.0"


def analyze(*args, **kwargs):
    from reelscope.analysis import analyze as _analyze
    return _analyze(*args, **kwargs)


def open_archive(location=None, db_url=None):
    from reelscope.archive import Archive
    return Archive(location, db_url)


__all__ = ["analyze", "open_archive", "__version__"]
