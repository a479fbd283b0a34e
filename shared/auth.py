"""Optional API-key auth: off unless a key is configured; compared in constant time."""
from __future__ import annotations

import hmac

from flask import Flask, request

from shared.errors import ApiError

HEADER = "X-API-Key"
_READS = {"GET", "HEAD", "OPTIONS"}
_OPEN_PATHS = ("/health",)  # pm2 and load balancers probe it without a key


class Unauthorized(ApiError):
    status = 401

    def __init__(self) -> None:
        super().__init__({"message": f"A valid API key is required in the {HEADER} header."})


def install_api_key(app: Flask, key: str, protect_reads: bool = True) -> None:
    """Require ``X-API-Key: <key>`` on every request (or only on writes) when ``key`` is set."""
    if not key:
        return
    expected = key.encode("utf-8")

    @app.before_request
    def _check_key() -> None:
        if request.path in _OPEN_PATHS or (request.method in _READS and not protect_reads):
            return
        given = request.headers.get(HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            raise Unauthorized()
