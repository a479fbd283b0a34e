"""An upload's bytes, read from a request body as a stream of chunks (never whole in memory).

Two body shapes carry a file: ``multipart/form-data`` with the file in the field ``file``
(``curl -F file=@x.csv``), or the raw body itself (``curl -T x.csv``, any other content type).
No Flask here: the caller passes the body's ``read`` function and its headers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Event, Field, File, MultipartDecoder

from shared.errors import ApiError, BadUpload
from file_server.store import TooLarge

CHUNK = 256 * 1024
FORM_OVERHEAD = 1024 * 1024  # part headers, boundaries and small extra fields around the file
MAX_PARTS = 100
CUT_OFF = "The upload was cut off before the end of the request body; nothing was stored."
NO_FILE = ("No file: send it as the multipart form field 'file' (curl -F file=@x.csv URL) "
           "or as the request body (curl -T x.csv URL).")


class Body:
    """The request body, read at most ``cap`` bytes; a broken connection becomes :class:`BadUpload`."""

    def __init__(self, read: Callable[[int], bytes], cap: int | None) -> None:
        self._read, self.cap, self.received = read, cap, 0

    def read(self, size: int = CHUNK) -> bytes:
        try:
            data = self._read(size)
        except ApiError:
            raise
        except RequestTimeout as e:  # the client stopped sending (the server's client timeout)
            raise BadUpload(f"{e.description} Nothing was stored.", status=408) from None
        except Exception as e:  # the client went away: socket errors, gunicorn's chunk errors
            raise BadUpload(CUT_OFF) from e
        self.received += len(data)
        if self.cap is not None and self.received > self.cap:
            raise TooLarge(f"The request body is larger than the limit of {self.cap} bytes.")
        return data


class Upload:
    """One file in a request body: its ``filename`` (multipart only) and its ``chunks()``."""

    filename: str | None = None

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError


class RawUpload(Upload):
    def __init__(self, body: Body, content_length: int | None) -> None:
        self.body, self.content_length = body, content_length

    def chunks(self) -> Iterator[bytes]:
        while data := self.body.read():
            yield data
        if self.content_length is not None and self.body.received < self.content_length:
            raise BadUpload(CUT_OFF)


class MultipartUpload(Upload):
    """The field ``file`` of a multipart form; the form must be complete and hold one such field."""

    def __init__(self, body: Body, boundary: bytes, field: str = "file") -> None:
        self.body, self.field = body, field
        self._decoder = MultipartDecoder(boundary, max_form_memory_size=FORM_OVERHEAD, max_parts=MAX_PARTS)
        self._events = self._read_events()
        self._start()

    def _read_events(self) -> Iterator[Event]:
        while True:
            data = self.body.read()
            try:
                self._decoder.receive_data(data or None)  # None: the body has ended
            except RequestEntityTooLarge:
                raise BadUpload("The multipart form has an oversized part header or preamble.") from None
            while (event := self._next()) is not NEED_DATA:
                yield event
                if isinstance(event, Epilogue):
                    return

    def _next(self) -> Event:
        try:
            return self._decoder.next_event()
        except RequestEntityTooLarge:
            raise BadUpload(f"The multipart form has more than {MAX_PARTS} parts.") from None
        except (ValueError, AttributeError):  # the decoder's words for a truncated or malformed form
            raise BadUpload("The multipart form is incomplete or malformed (was the upload cut off?); "
                            "nothing was stored.") from None

    def _is_ours(self, event: Event) -> bool:
        return isinstance(event, (File, Field)) and event.name == self.field

    def _start(self) -> None:
        for event in self._events:
            if self._is_ours(event):
                self.filename = event.filename if isinstance(event, File) else None
                return
        raise BadUpload(NO_FILE)

    def chunks(self) -> Iterator[bytes]:
        for event in self._events:
            if isinstance(event, Data):
                if event.data:
                    yield event.data
                if not event.more_data:
                    break
        else:
            raise BadUpload(CUT_OFF)
        for event in self._events:  # the rest of the form: complete, and no second file
            if self._is_ours(event):
                raise BadUpload(f"The form has more than one '{self.field}' field; send one file per request.")


def open_upload(read: Callable[[int], bytes], content_type: str | None, content_length: int | None,
                chunked: bool, limit: int | None) -> Upload:
    """The upload in a body of ``content_type``; 413 at once when ``Content-Length`` says it is too big."""
    mimetype, options = parse_options_header(content_type or "")
    multipart = mimetype == "multipart/form-data"
    cap = None if limit is None else limit + (FORM_OVERHEAD if multipart else 0)
    if cap is not None and content_length is not None and content_length > cap:
        raise TooLarge(f"The file is larger than the limit of {limit} bytes.")
    body = Body(read, cap)
    if not multipart:
        if content_length is None and not chunked:  # no body at all; Content-Length: 0 is an empty file
            raise BadUpload(NO_FILE)
        return RawUpload(body, content_length)
    boundary = options.get("boundary", "")
    if not boundary or not boundary.isascii():
        raise BadUpload("The multipart form has no valid boundary in its Content-Type header.")
    return MultipartUpload(body, boundary.encode("ascii"))
