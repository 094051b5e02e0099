"""The archive: database (SQLAlchemy; SQLite by default, PostgreSQL by URL), media store, exports."""
from reelscope.archive.store import Archive

__all__ = ["Archive"]
