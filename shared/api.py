"""Flask-RESTX pieces every server uses: the Api object, request validation, error mapping.

Request validation is done here rather than with ``expect(..., validate=True)``: Flask-RESTX's
jsonschema wording (``'body' is a required property``) differs from the contract's
(``Missing required parameter in the JSON body``), and a body that is not JSON must get the
same 400 shape instead of Werkzeug's 400/415 pages.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, request
from flask_restx import Api, fields
from werkzeug.exceptions import HTTPException

from shared.auth import install_api_key
from shared.errors import MISSING_FIELD, ApiError, InvalidInput, Overloaded

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 5
TOO_SHORT = "text length is too short."


def make_api(app: Flask, title: str, description: str) -> Api:
    """An Api with Swagger UI at ``/docs`` (or none when ``SWAGGER`` is off), our error handlers, and
    the API key check when ``API_KEY`` is set. Call it after ``install_request_logging``."""
    app.config.setdefault("ERROR_404_HELP", False)
    app.config.setdefault("RESTX_MASK_SWAGGER", False)
    app.config.setdefault("ERROR_INCLUDE_MESSAGE", False)  # our error bodies carry their own wording
    app.config["RESTX_JSON"] = {"ensure_ascii": False}
    doc = "/docs" if app.config.get("SWAGGER", True) else False
    api = Api(app, version="1.0", title=title, description=description, doc=doc)
    register_error_handlers(api)
    # Errors outside the Api's resources (an unknown URL) reach Flask, not Flask-RESTX.
    app.register_error_handler(HTTPException, lambda e: ({"message": e.description}, e.code))
    app.register_error_handler(ApiError, lambda e: (e.body, e.status))
    install_api_key(app, app.config.get("API_KEY", ""), app.config.get("API_KEY_FOR_READS", True))
    return api


def text_model(api: Api, names: Iterable[str] = ("title", "body")):
    """The Swagger model of a text request: every field a required string."""
    return api.model(
        "TextRequest_" + "_".join(names),
        {name: fields.String(required=True, description=f"article {name}") for name in names},
    )


def text_payload(names: Iterable[str] = ("title", "body"), max_chars: int = 0) -> dict[str, str]:
    """Read and validate a JSON text request the way the contract words it.

    Every missing field is named; fields must be strings; the joined text must be at least
    ``MIN_TEXT_CHARS`` long and, when ``max_chars`` is set, at most that (413 beyond).
    """
    names = tuple(names)
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput({"json": "The request body must be a JSON object with the fields "
                                    + ", ".join(names) + "."})
    missing = {name: MISSING_FIELD for name in names if payload.get(name) is None}
    if missing:
        raise InvalidInput(missing)
    wrong = {name: f"'{name}' must be a string." for name in names if not isinstance(payload[name], str)}
    if wrong:
        raise InvalidInput(wrong)
    length = sum(len(payload[name]) for name in names)
    if length < MIN_TEXT_CHARS:
        raise InvalidInput({"text": TOO_SHORT})
    if max_chars and length > max_chars:
        raise InvalidInput({"text": f"text is too long: {length} characters, at most {max_chars}."}, 413)
    return {name: payload[name] for name in names}


def register_error_handlers(api: Api) -> None:
    """Our errors answer their contract shape; HTTP errors a short message; anything else a bare 500."""

    @api.errorhandler(ApiError)
    def _api_error(error: ApiError):
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Overloaded) else {}
        return error.body, error.status, headers

    @api.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return {"message": error.description}, error.code
        logger.exception("unhandled error on %s", request.path)
        return {"message": "Internal server error."}, 500
