"""The suite's own exception types. Services raise them; one handler per app maps them to HTTP."""
from __future__ import annotations

VALIDATION_MESSAGE = "Input payload validation failed"
MISSING_FIELD = "Missing required parameter in the JSON body"


class ApiError(Exception):
    """An error a client caused; ``body`` is the JSON the contract answers with."""

    status = 400

    def __init__(self, body: dict) -> None:
        super().__init__(body)
        self.body = body


class InvalidInput(ApiError):
    """A JSON request that fails validation: ``{"errors": {...}, "message": ...}``."""

    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        super().__init__({"errors": errors, "message": VALIDATION_MESSAGE})
        self.status = status


class BadUpload(ApiError):
    """An uploaded file that cannot be used: ``{"error": "<what is wrong>"}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__({"error": message})
        self.status = status


class StorageError(ApiError):
    """The server could not persist something (disk full, unwritable directory)."""

    def __init__(self, message: str, status: int = 507) -> None:
        super().__init__({"error": message})
        self.status = status


class Overloaded(ApiError):
    """The inference queue is full; the client should retry later."""

    status = 503

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__({"message": "The server is busy; retry shortly."})
        self.retry_after = retry_after
