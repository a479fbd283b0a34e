"""The suite's log lines, in the two formats the operations guide documents.

``configure_logging`` runs once per process, before the app is built. ``install_request_logging``
hooks an app so that every request logs ``[OPENAPI] <endpoint>`` on arrival and every response
logs ``[OPENAPI][<code> <PHRASE>] <JSON>``, pretty-printed with Korean left readable.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from enum import Enum

from flask import Flask, Response, request

logger = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class LogFormat(str, Enum):
    """``pipe`` is theme_classification's format, ``dash`` theme_generation's."""

    PIPE = "%(asctime)s|%(thread)d|%(levelname)s|%(message)s"
    DASH = "%(asctime)s - %(levelname)s - %(message)s"


_warned_level = False  # this process (or the master it was forked from) said LOG_LEVEL is no level


def configure_logging(fmt: LogFormat, level: str = "DEBUG") -> None:
    """Send every logger's records to stdout (which pm2 captures) in ``fmt``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(fmt.value))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    known = logging.getLevelNamesMapping()
    root.setLevel(known.get(level.upper(), logging.DEBUG))
    global _warned_level
    if level.upper() not in known and not _warned_level:  # once: it is called again in each (forked) worker
        _warned_level = True
        root.warning("LOG_LEVEL=%r is no level (DEBUG, INFO, WARNING, ERROR): DEBUG is logged", level)
    # Third-party debug chatter would drown the request lines operators read.
    for noisy in ("urllib3", "filelock", "PIL", "matplotlib", "fsspec", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def pretty(payload: object) -> str:
    """JSON as the guide shows it: indent 2, Korean unescaped."""
    return json.dumps(payload, indent=2, ensure_ascii=False)


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so a client cannot forge log lines."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def log_inputs(endpoint: str, **fields: str) -> None:
    """``<endpoint> title : <title>`` and so on, one line per field."""
    for name, value in fields.items():
        logger.debug("%s %s : %s", endpoint, name, one_line(value))


_SUMMARISED = ("/swagger.json", "/swaggerui/", "/docs")  # large, and not a client's answer


def _response_text(response: Response, max_chars: int) -> str:
    if response.is_streamed or response.direct_passthrough or request.path.startswith(_SUMMARISED):
        return f"<{response.mimetype}, streamed>" if response.is_streamed else _summary(response)
    data = response.get_data()
    if max_chars and len(data) > max_chars:  # e.g. a 100,000-row clustering: 27 MB pretty-printed
        head = data[:max_chars].decode("utf-8", errors="ignore")
        return f"{head} ... <{len(data) - max_chars} more bytes of {response.mimetype} not logged>"
    if response.is_json:
        try:
            return pretty(json.loads(data))
        except ValueError:
            pass
    return _summary(response)


def _summary(response: Response) -> str:
    return f"<{response.mimetype}, {response.calculate_content_length()} bytes>"


def install_request_logging(app: Flask) -> None:
    """Log arrival and outcome of every request the app answers, errors included.

    A response body over ``LOG_RESPONSE_MAX_CHARS`` bytes (app config; 0 = no limit) is logged as
    its first bytes, unformatted, and a note of how much was left out.
    """
    max_chars = int(app.config.get("LOG_RESPONSE_MAX_CHARS", 200_000))

    @app.before_request
    def _log_arrival() -> None:
        # A path may carry %0A or %00: escape control characters so no one can forge log lines.
        logger.debug("[OPENAPI] %s", one_line(request.path.strip("/") or "/"))

    @app.after_request
    def _log_outcome(response: Response) -> Response:
        logger.debug("[OPENAPI][%s] %s", response.status, _response_text(response, max_chars))
        return response
