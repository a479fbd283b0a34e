"""The file_server app factory and its ``file-server`` command."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from shared.api import make_api
from shared.config import SERVING_BOUNDS, load_config, warn_unread_environment
from shared.logs import LogFormat, install_request_logging
from shared.serve import read_settings, serve
from file_server.api import StoreNameConverter, ns
from file_server.store import FileStore

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "HOST": "127.0.0.1",
    "PORT": 8003,
    "THREADS": 16,  # a download holds a thread for as long as the client reads
    "ROOT": str(ROOT / "var" / "files"),
    "MAX_UPLOAD_BYTES": 2 * 1024**3,
    "API_KEY": "",  # empty: no key needed
    "API_KEY_FOR_READS": False,
    "SWAGGER": True,
    "CLIENT_TIMEOUT": 30.0,  # seconds a client may pause mid-request, and its headers may take; then 408 (0: off)
    "LOG_RESPONSE_MAX_CHARS": 200_000,  # longer response bodies are logged cut short (0: whole)
}

BOUNDS = {**SERVING_BOUNDS, "THREADS": (1, None)}


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config, then the store (created and probed), then the API."""
    config = load_config(DEFAULTS, "FILE_SERVER", overrides, bounds=BOUNDS)
    warn_unread_environment(DEFAULTS, "FILE_SERVER")
    if config["API_KEY_FOR_READS"] and not config["API_KEY"]:
        raise ValueError("FILE_SERVER_API_KEY_FOR_READS is on but FILE_SERVER_API_KEY is empty")
    app = Flask(__name__)
    app.config.update(config)
    app.url_map.merge_slashes = False  # '//' in a name is refused, not redirected away
    app.url_map.converters["store_name"] = StoreNameConverter
    store = FileStore(config["ROOT"], config["MAX_UPLOAD_BYTES"])
    store.prepare()
    logger.info("file store at %s, uploads up to %d bytes, API key %s", store.root,
                config["MAX_UPLOAD_BYTES"], "required for writes" if config["API_KEY"] else "off")
    app.extensions["file_server"] = store
    install_request_logging(app)
    api = make_api(app, "file_server", "The suite's file store: list, upload, download, delete")
    api.add_namespace(ns)
    return app


def main() -> None:
    """Serve under gunicorn; a store that cannot be created or written stops the process."""
    config = read_settings(lambda: load_config(DEFAULTS, "FILE_SERVER", bounds=BOUNDS), "file_server",
                           LogFormat.DASH)
    serve(create_app, "file_server", host=config["HOST"], port=config["PORT"], threads=config["THREADS"],
          client_timeout=config["CLIENT_TIMEOUT"], log_format=LogFormat.DASH)
