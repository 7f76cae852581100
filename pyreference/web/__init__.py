"""The HTTP API and the owner console (the optional `pyreference[web]` extra).

`create_app(Settings(...))` builds the FastAPI application that `pyreference serve`
runs with uvicorn; see docs/http-api.md.
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
