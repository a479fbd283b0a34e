"""The theme_classification app factory and its ``theme-classification-server`` command."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared.api import make_api
from shared.backends import GENERATOR_DEFAULTS, MODEL_SERVER_BOUNDS, load_generator, server_processes, serving_threads
from shared.batching import install_disconnect_check
from shared.config import load_config, reading, warn_unread_environment
from shared.logs import LogFormat, install_request_logging
from shared.serve import read_settings, serve
from theme_classification.api import ns
from theme_classification.service import ACTIVE_LIST, ClassificationService

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "HOST": "127.0.0.1",
    "PORT": 8001,
    "THREADS": 0,  # 0: auto, see shared.backends.serving_threads
    "T5_MODEL_DIR": str(ROOT / "models" / "theme-t5"),
    "DEVICE": "auto",
    "NUM_BEAMS": 4,
    "DATA_DIR": str(ROOT / "var" / "theme_classification"),
    "DEFAULT_THEME_LIST": str(ROOT / "data" / "themes.csv"),
    "MAX_TEXT_BYTES": 0,  # largest text request body; 0: 24 bytes per MAX_TEXT_CHARS + 64 KiB (shared.api)
    "MAX_TEXT_CHARS": 20_000,
    "MAX_UPLOAD_BYTES": 20 * 1024 * 1024,
    "SWAGGER": True,
    "CLIENT_TIMEOUT": 30.0,  # seconds a client may pause mid-request, and its headers may take; then 408 (0: off)
    "LOG_RESPONSE_MAX_CHARS": 200_000,  # longer response bodies are logged cut short (0: whole)
    "API_KEY": "",
    **GENERATOR_DEFAULTS,  # BACKEND, BATCHING, MAX_BATCH_SIZE, MAX_WAIT_MS, MAX_QUEUE ... (docs/performance.md)
}

BOUNDS = MODEL_SERVER_BOUNDS


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config, then models (once), then the API."""
    config = load_config(DEFAULTS, "THEME_CLASSIFICATION", overrides, bounds=BOUNDS)
    warn_unread_environment(DEFAULTS, "THEME_CLASSIFICATION")
    app = Flask(__name__)
    app.config.update(config, MAX_CONTENT_LENGTH=config["MAX_UPLOAD_BYTES"])
    data_dir = Path(config["DATA_DIR"])
    with reading(f"THEME_CLASSIFICATION_T5_MODEL_DIR={config['T5_MODEL_DIR']}"):
        t5 = load_generator(config["T5_MODEL_DIR"], config)
    uploaded = data_dir / ACTIVE_LIST  # the last accepted upload, when there is one, is the list served
    with reading(f"the list last uploaded, {uploaded} (in THEME_CLASSIFICATION_DATA_DIR; fix it, or remove it to "
                 "start with the default list)" if uploaded.is_file()
                 else f"THEME_CLASSIFICATION_DEFAULT_THEME_LIST={config['DEFAULT_THEME_LIST']}"):
        state = ClassificationService.load_themes(data_dir, Path(config["DEFAULT_THEME_LIST"]))
    app.extensions["theme_classification"] = ClassificationService(t5, state, data_dir, config["NUM_BEAMS"])
    install_request_logging(app)
    install_disconnect_check(app)
    api = make_api(app, "theme_classification", "Which investment themes an article ties to which stocks")
    api.add_namespace(ns)
    return app


def main() -> None:
    """Serve under gunicorn; a model or theme list that will not load stops the process."""
    config = read_settings(lambda: load_config(DEFAULTS, "THEME_CLASSIFICATION", bounds=BOUNDS), "theme_classification",
                           LogFormat.PIPE)
    serve(create_app, "theme_classification", host=config["HOST"], port=config["PORT"], threads=serving_threads(config),
          processes=server_processes(config), client_timeout=config["CLIENT_TIMEOUT"], log_format=LogFormat.PIPE)
