"""REST API over the archive (FastAPI): create_app(archive, ...) or `reelscope serve`."""
from reelscope.api.app import app_from_env, create_app, settings_from_env

__all__ = ["create_app", "app_from_env", "settings_from_env"]
