"""What every answer of the suite must look like, whatever was sent.

No 5xx but the documented ones (503 when the inference queue is full, 507 when the disk is); every
error a JSON object in one of the contract's shapes with a message a person can act on; nothing
internal (a traceback, a path of this checkout, a library's name) in any response.
"""
from __future__ import annotations

import requests

from shared.errors import VALIDATION_MESSAGE
from tests.conftest import ROOT

DOCUMENTED_5XX = (503, 507)
LEAKS = ("Traceback", 'File "', "site-packages", str(ROOT), "/usr/lib/python", "werkzeug", "Werkzeug",
         "gunicorn", "flask", "Error:", "Exception")


def check_answer(response: requests.Response) -> None:
    """Any answer: not an undocumented 5xx; an error in a contract shape; no internals."""
    assert response.status_code < 500 or response.status_code in DOCUMENTED_5XX, describe(response)
    if response.status_code >= 400 and response.request.method != "HEAD":
        check_error(response)


def check_error(response: requests.Response) -> str:
    """The error's message(s), after checking its shape: ``{"errors": {field: msg}, "message"}``
    (text endpoints), ``{"error": msg}`` (uploads, files) or ``{"message": msg}`` (the rest)."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), describe(response)
    body = response.json()
    assert isinstance(body, dict), describe(response)
    if "errors" in body:
        assert body["message"] == VALIDATION_MESSAGE, describe(response)
        assert body["errors"] and all(isinstance(k, str) and _sentence(v) for k, v in body["errors"].items()), \
            describe(response)
        message = " ".join(body["errors"].values())
    elif "error" in body:
        message = body["error"]
    else:
        message = body.get("message")
    assert _sentence(message), describe(response)
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} leaked: {describe(response)}"
    return message


def _sentence(text: object) -> bool:
    return isinstance(text, str) and len(text.strip()) >= 10


def describe(response: requests.Response) -> str:
    request = response.request
    body = request.body if isinstance(request.body, (bytes, str)) else b""
    return (f"{request.method} {request.url} ({len(body or b'')} bytes) -> {response.status_code} "
            f"{response.text[:300]!r}")
