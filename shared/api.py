"""Flask-RESTX pieces every server uses: the Api object, request validation, error mapping.

Request validation is done here rather than with ``expect(..., validate=True)``: Flask-RESTX's
jsonschema wording (``'body' is a required property``) differs from the contract's
(``Missing required parameter in the JSON body``), and a body that is not JSON must get the
same 400 shape instead of Werkzeug's 400/415 pages.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Iterable

from flask import Flask, Request, current_app, request
from flask_restx import Api, fields
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge, RequestTimeout
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from shared.auth import install_api_key
from shared.errors import MISSING_FIELD, ApiError, BadUpload, InvalidInput, Overloaded
from shared.serve import ClientTimeout

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 5
TOO_SHORT = "text length is too short."
# The JSON of a text request that MAX_TEXT_CHARS allows is at most this many bytes per character: a
# character NFC composes from up to 4 code points (Hangul jamo: 3), each spelled as a 6-byte \uXXXX
# escape; plus room for the field names, spacing and extra fields. MAX_TEXT_BYTES overrides it.
TEXT_BYTES_PER_CHAR = 24
TEXT_BYTES_SLACK = 64 * 1024


def make_api(app: Flask, title: str, description: str) -> Api:
    """An Api with Swagger UI at ``/docs`` (or none when ``SWAGGER`` is off), our error handlers, and
    the API key check when ``API_KEY`` is set. Call it after ``install_request_logging``."""
    app.config.setdefault("ERROR_404_HELP", False)
    app.config.setdefault("RESTX_MASK_SWAGGER", False)
    app.config.setdefault("ERROR_INCLUDE_MESSAGE", False)  # our error bodies carry their own wording
    app.config["RESTX_JSON"] = {"ensure_ascii": False}
    app.debug = False  # FLASK_DEBUG=1 in a server's environment would let errors propagate past our handlers
    app.wsgi_app = _guard_body_reads(app.wsgi_app)
    app.request_class = _Request
    app.log_exception = _quiet_overload(app.log_exception)
    swagger = app.config.get("SWAGGER", True)
    api = Api(version="1.0", title=title, description=description, doc="/docs" if swagger else False)
    # Off means no UI and no spec: doc=False alone still serves /swagger.json, and Api(app, ...) does not
    # pass add_specs on to init_app.
    api.init_app(app, add_specs=swagger)
    register_error_handlers(api)
    # Errors outside the Api's resources (an unknown URL) reach Flask, not Flask-RESTX.
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(ApiError, lambda e: (e.body, e.status))
    install_api_key(app, app.config.get("API_KEY", ""), app.config.get("API_KEY_FOR_READS", True))
    return api


def _quiet_overload(log_exception: Callable) -> Callable:
    """Flask-RESTX logs every answer of 500 or more through ``app.log_exception``, as an ERROR with a
    traceback; a 503 for a full queue is no fault of the server's and its WARNING is logged where the
    queue refuses (``shared.batching``)."""
    def log(exc_info) -> None:
        if not isinstance(exc_info[1] if exc_info else None, Overloaded):
            log_exception(exc_info)
    return log


class _GuardedInput:
    """``wsgi.input`` whose read errors (a broken chunked encoding, a client gone mid-body: gunicorn
    raises its own parse errors) are the client's 400, not an unexpected 500."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.failed = False  # a read failed: what is left of the body is unknown

    def read(self, *args) -> bytes:
        return self._guarded(self._stream.read, *args)

    def readline(self, *args) -> bytes:
        return self._guarded(self._stream.readline, *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def _guarded(self, method, *args) -> bytes:
        try:
            return method(*args)
        except ClientTimeout as exc:  # shared.serve's CLIENT_TIMEOUT: the client stalled mid-body
            self.failed = True
            logger.warning("the request body stopped arriving: %s", exc)
            raise RequestTimeout(f"The request body did not arrive in time: nothing was received for "
                                 f"{exc.seconds:g} seconds.") from None
        except Exception as exc:
            self.failed = True
            logger.warning("the request body could not be read: %s", type(exc).__name__)
            raise ClientDisconnected("The request body could not be read: it was cut off, or its chunked "
                                     "encoding is broken.") from None


UNREAD_BODY = (408, 413)  # answers that leave the body half read or unread


def _guard_body_reads(wsgi_app):
    """Body read errors as the client's 4xx (``_GuardedInput``). After an answer that leaves the body
    unread, the connection cannot carry another request: the answer says ``Connection: close``."""
    def app(environ, start_response):
        guarded = environ["wsgi.input"] = _GuardedInput(environ["wsgi.input"])

        def respond(status: str, headers, exc_info=None):
            if guarded.failed or int(status[:3]) in UNREAD_BODY:
                _close_after(start_response)
            return start_response(status, headers, exc_info)
        return wsgi_app(environ, respond)
    return app


def _close_after(start_response: Callable) -> None:
    """gunicorn decides ``Connection`` itself (an app's own header is dropped as hop-by-hop); its
    ``start_response`` is a method of its response, whose ``force_close`` makes it ``close``. Under
    another server (tests' Werkzeug client) there is nothing to do."""
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if force_close is not None:
        force_close()


class _CappedStream(LimitedStream):
    """A body of unknown length (chunked) allowed ``cap`` bytes: a byte more is a 413.

    Werkzeug's own stream for it stops reading at ``max_content_length`` without an error, so the app
    would see the body cut short (a 400 "not JSON", or a truncated upload) instead of a 413."""

    def __init__(self, stream, cap: int) -> None:
        super().__init__(stream, cap + 1, is_max=True)

    def readinto(self, b) -> int | None:
        size = super().readinto(b)
        if self.tell() >= self.limit:
            raise RequestEntityTooLarge()
        return size


class _Request(Request):
    """Flask's request, with a chunked body over ``max_content_length`` refused (413), not truncated."""

    @cached_property
    def stream(self):
        cap = self.max_content_length
        if cap is None or self.content_length is not None or "wsgi.input_terminated" not in self.environ:
            return super().stream  # a Content-Length over the cap is refused before anything is read
        return _CappedStream(self.environ["wsgi.input"], cap)


def uploaded_file(what: str, example: str):
    """The one file of the multipart field ``file``: a 400 naming the fix when there is none (``example``:
    the curl command) or more than one (which was meant is not ours to guess)."""
    if encoding := _content_encoding():
        raise BadUpload(f"The upload is compressed (Content-Encoding: {encoding}): send it uncompressed "
                        f"({example}).")
    uploads = request.files.getlist("file")
    if not uploads:
        raise BadUpload(f"No file: send the CSV as the multipart form field 'file' ({example}).")
    if len(uploads) > 1:
        raise BadUpload(f"{len(uploads)} files in the field 'file': send one {what} per upload.")
    return uploads[0]


def _content_encoding() -> str:
    """The request's ``Content-Encoding`` other than ``identity``: the servers read bodies as sent, so a
    compressed one is refused with the contract's 400 for a body that is not JSON, naming the fix."""
    encoding = request.headers.get("Content-Encoding", "").strip()
    return "" if encoding.lower() in ("", "identity") else encoding


def text_model(api: Api, names: Iterable[str] = ("title", "body")):
    """The Swagger model of a text request: every field a required string."""
    return api.model(
        "TextRequest_" + "_".join(names),
        {name: fields.String(required=True, description=f"article {name}") for name in names},
    )


def text_payload(names: Iterable[str] = ("title", "body"), max_chars: int = 0) -> dict[str, str]:
    """Read and validate a JSON text request the way the contract words it.

    Every missing field is named; fields must be strings; the text is normalised to NFC (NFD text, as
    macOS writes it, matches the theme list only composed); the joined text must hold at least
    ``MIN_TEXT_CHARS`` characters once each field's blank ends are trimmed and, when ``max_chars`` is set, at most ``max_chars``
    characters (413 beyond). A body larger than such a text can need (:func:`text_body_limit`) is
    refused with 413 before it is read.
    """
    names = tuple(names)
    if encoding := _content_encoding():
        raise InvalidInput({"json": f"The request body is compressed (Content-Encoding: {encoding}): send the "
                                    "JSON uncompressed."})
    limit = text_body_limit(max_chars)
    if limit:
        request.max_content_length = limit
    try:
        payload = request.get_json(force=True, silent=True)
    except RecursionError:  # [[[[... nested deeper than the JSON parser's stack: not a request
        payload = None
    except RequestEntityTooLarge:
        raise InvalidInput({"text": f"text is too long: the request body is larger than {limit} bytes"
                                    + (f", more than {max_chars} characters need." if max_chars else ".")},
                           413) from None
    if not isinstance(payload, dict):
        raise InvalidInput({"json": _not_utf8() or "The request body must be a JSON object with the fields "
                                                   + ", ".join(names) + "."})
    missing = {name: MISSING_FIELD for name in names if payload.get(name) is None}
    if missing:
        raise InvalidInput(missing)
    wrong = {name: f"'{name}' must be a string." for name in names if not isinstance(payload[name], str)}
    if wrong:
        raise InvalidInput(wrong)
    # JSON may spell an unpaired surrogate (\ud800); no tokenizer or UTF-8 writer can take one.
    broken = {name: f"'{name}' is not valid Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)."
              for name in names if not _is_unicode(payload[name])}
    if broken:
        raise InvalidInput(broken)
    text = {name: unicodedata.normalize("NFC", payload[name]) for name in names}
    if sum(len(_trimmed(value)) for value in text.values()) < MIN_TEXT_CHARS:  # blank ends say nothing
        raise InvalidInput({"text": TOO_SHORT})
    length = sum(len(value) for value in text.values())
    if max_chars and length > max_chars:
        raise InvalidInput({"text": f"text is too long: {length} characters, at most {max_chars}."}, 413)
    return text


def _not_utf8() -> str:
    """The message for a body that is no JSON because it is in another encoding (EUC-KR, CP949), else
    ''. JSON is UTF-8 (or UTF-16/32, which the parser tells by the bytes): a ``charset`` is not read."""
    data = request.get_data(cache=True)
    try:
        data.decode(json.detect_encoding(data))
    except UnicodeDecodeError:
        charset = request.mimetype_params.get("charset")
        said = f" (it says charset={charset})" if charset else ""
        return f"The request body is not UTF-8{said}: send the JSON encoded as UTF-8."
    return ""


def _trimmed(value: str) -> str:
    """``value`` without whitespace and invisible format characters (zero-width spaces, BOMs) at its ends."""
    blank = lambda ch: ch.isspace() or unicodedata.category(ch) == "Cf"  # noqa: E731
    start, end = 0, len(value)
    while start < end and blank(value[start]):
        start += 1
    while end > start and blank(value[end - 1]):
        end -= 1
    return value[start:end]


def text_body_limit(max_chars: int) -> int | None:
    """The largest text request body, in bytes: ``MAX_TEXT_BYTES`` when set, else what ``max_chars``
    characters can take as JSON; never more than the app's ``MAX_CONTENT_LENGTH`` (``MAX_UPLOAD_BYTES``,
    meant for uploads). ``None``: no limit."""
    own = current_app.config.get("MAX_TEXT_BYTES") or (
        max_chars * TEXT_BYTES_PER_CHAR + TEXT_BYTES_SLACK if max_chars else 0)
    return min((n for n in (own, current_app.config.get("MAX_CONTENT_LENGTH") or 0) if n > 0), default=None)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def http_error(error: HTTPException) -> tuple[dict, int, dict[str, str]]:
    """An HTTP error as ``{"message": ...}``, keeping the headers it needs (``Allow`` on a 405,
    ``Content-Range`` on a 416); a 413 says what the limit is."""
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    message = error.description
    if isinstance(error, RequestEntityTooLarge):
        message = _too_large_message(error)
    return {"message": message}, error.code or 500, headers


def _too_large_message(error: RequestEntityTooLarge) -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return error.description
    if request.content_length is None or request.content_length > limit:
        return f"The request body is larger than the limit of {limit} bytes (MAX_UPLOAD_BYTES)."
    # Werkzeug's form limits: more than max_form_parts parts, or a plain field over max_form_memory_size.
    return ("The multipart form has too many parts or too large a text field: send the file as the one "
            "file part 'file' (curl -F file=@x.csv).")


def register_error_handlers(api: Api) -> None:
    """Our errors answer their contract shape; HTTP errors a short message; anything else a bare 500."""

    @api.errorhandler(ApiError)
    def _api_error(error: ApiError):
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Overloaded) else {}
        return error.body, error.status, headers

    @api.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        logger.exception("unhandled error on %s", request.path)
        body = {"message": "Internal server error."}
        if hasattr(error, "data"):  # Flask-RESTX would answer an exception's own ``data`` instead
            error.data = body
        return body, 500
