"""The theme_generation app factory and its ``theme-generation-server`` command."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from shared.api import make_api
from shared.backends import GENERATOR_DEFAULTS, MODEL_SERVER_BOUNDS, load_generator, server_processes, serving_threads
from shared.batching import install_disconnect_check
from shared.config import ConfigError, load_config, reading, warn_unread_environment
from shared.logs import LogFormat, install_request_logging
from shared.serve import read_settings, serve
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from theme_generation.api import ns
from theme_generation.clustering import DEFAULT_THRESHOLD
from theme_generation.sentences import SentenceSplitter
from theme_generation.service import DEFAULT_MIN_REL_SCORE, GenerationService

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "HOST": "127.0.0.1",
    "PORT": 8002,
    "THREADS": 0,  # 0: auto, see shared.backends.serving_threads
    "T5_MODEL_DIR": str(ROOT / "models" / "theme-t5"),
    "GEN_MODEL_DIR": "",  # empty: T5_MODEL_DIR (one multi-task model)
    "REL_MODEL_DIR": "",  # empty: T5_MODEL_DIR
    "DEVICE": "auto",
    "NUM_BEAMS": 4,
    "BATCH_SIZE": 16,  # sentences per model call (per queued request when BATCHING is on)
    "MAX_SENTENCES": 64,  # title included; later sentences of a longer article are left out
    "MAX_TEXT_BYTES": 0,  # largest text request body; 0: 24 bytes per MAX_TEXT_CHARS + 64 KiB (shared.api)
    "MAX_TEXT_CHARS": 200_000,  # title + body; 413 beyond
    "MAX_UPLOAD_BYTES": 256 * 1024 * 1024,  # /clustering CSV
    "CLUSTER_THRESHOLD": DEFAULT_THRESHOLD,
    "MIN_REL_SCORE": DEFAULT_MIN_REL_SCORE,  # /inference keeps a sentence answered unrelated if related scores this
    "DEFAULT_THEME_LIST": str(ROOT / "data" / "themes.csv"),
    "SWAGGER": True,
    "CLIENT_TIMEOUT": 30.0,  # seconds a client may pause mid-request, and its headers may take; then 408 (0: off)
    "LOG_RESPONSE_MAX_CHARS": 200_000,  # longer response bodies are logged cut short (0: whole)
    "API_KEY": "",  # when set, every request but /health needs X-API-Key (see shared.auth)
    **GENERATOR_DEFAULTS,  # BACKEND, BATCHING, MAX_BATCH_SIZE, MAX_WAIT_MS, MAX_QUEUE ... (docs/performance.md)
    # An article queues one input per sentence naming a stock (5-20 typically, up to MAX_SENTENCES), so
    # the shared 48 would refuse a fourth concurrent article; 192 is about 12 batches of waiting.
    "MAX_QUEUE": 192,
}


def load_models(config: dict) -> tuple[T5Generator, T5Generator]:
    """The generator and the relevance model (on ``BACKEND``, batched unless ``BATCHING`` is off); one
    directory named twice is loaded once, so both tasks share one model and one batch queue."""
    keys = [key if config[key] else "T5_MODEL_DIR" for key in ("GEN_MODEL_DIR", "REL_MODEL_DIR")]
    paths = [Path(config[key]).resolve() for key in keys]
    loaded = {}
    for key, path in zip(keys, paths):
        if path not in loaded:
            with reading(f"THEME_GENERATION_{key}={config[key]}"):
                loaded[path] = load_generator(path, config)
    return loaded[paths[0]], loaded[paths[1]]


BOUNDS = {**MODEL_SERVER_BOUNDS, "BATCH_SIZE": (1, None), "MAX_SENTENCES": (1, None), "CLUSTER_THRESHOLD": (0, 1)}


def settings(overrides: dict | None = None) -> dict:
    """The server's settings, checked: read by ``main`` before the server starts and by ``create_app``."""
    config = load_config(DEFAULTS, "THEME_GENERATION", overrides, bounds=BOUNDS)
    if config["MIN_REL_SCORE"] > 0:
        raise ConfigError(f"THEME_GENERATION_MIN_REL_SCORE={config['MIN_REL_SCORE']}: a log-probability, "
                          "0 or below (0: the relevance model's answers alone)")
    return config


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config, then models, splitter and theme list (once), then the API."""
    config = settings(overrides)
    warn_unread_environment(DEFAULTS, "THEME_GENERATION")
    app = Flask(__name__)
    app.config.update(config, MAX_CONTENT_LENGTH=config["MAX_UPLOAD_BYTES"])
    generator, relevance = load_models(config)
    with reading(f"THEME_GENERATION_DEFAULT_THEME_LIST={config['DEFAULT_THEME_LIST']}"):
        themes = ThemeList.load(config["DEFAULT_THEME_LIST"])
    logger.info("theme list %s: %d pairs, %d themes", config["DEFAULT_THEME_LIST"], len(themes), len(themes.themes))
    app.extensions["theme_generation"] = GenerationService(
        generator, relevance, TfidfMatcher(themes), SentenceSplitter.load(),
        num_beams=config["NUM_BEAMS"], batch_size=config["BATCH_SIZE"],
        max_sentences=config["MAX_SENTENCES"], cluster_threshold=config["CLUSTER_THRESHOLD"],
        min_rel_score=config["MIN_REL_SCORE"],
    )
    install_request_logging(app)
    install_disconnect_check(app)
    api = make_api(app, "theme_generation", "Sentence-level theme-stock pairs, relevance and theme clustering")
    api.add_namespace(ns)
    return app


def main() -> None:
    """Serve under gunicorn; a model, splitter or theme list that will not load stops the process."""
    config = read_settings(settings, "theme_generation", LogFormat.DASH)
    serve(create_app, "theme_generation", host=config["HOST"], port=config["PORT"], threads=serving_threads(config),
          processes=server_processes(config), client_timeout=config["CLIENT_TIMEOUT"], log_format=LogFormat.DASH)
