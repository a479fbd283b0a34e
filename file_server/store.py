"""The file store, without Flask: safe names, atomic writes, checksums. Other servers import it.

    from file_server.store import BadName, FileStore, NotFound
    path = FileStore(root).resolve("themes/2026-02.csv")  # a regular file inside root, or an error

Names are ``/``-separated, NFC-normalised, and can only ever point inside the root: ``..``,
absolute paths, backslashes, control and invisible characters, lookalikes of ``/`` and ``.``,
symbolic links and hidden names (``.x``, which the store keeps for itself) are refused.

An upload is streamed to a hidden temporary file in its target folder, fsynced, then renamed
over the target, so readers see the old file or the new one and never half of either. Each
file's SHA-256 and upload time live in ``.meta/<sha256 of name>.json``, checked against the
file's inode, size and mtime; a stale or missing record (a file copied in by hand) is
recomputed on first use.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from shared.errors import ApiError, StorageError
from shared.themes import write_atomic

logger = logging.getLogger(__name__)

MAX_SEGMENT_BYTES = 255
MAX_NAME_BYTES = 1024
MAX_DEPTH = 16
META_DIR = ".meta"
TEMP_PREFIX, TEMP_SUFFIX = ".upload-", ".part"
# Characters that render as nothing, outside the C categories (refused with them): Unicode's default-
# ignorable letters and marks (the Hangul fillers, the combining grapheme joiner, the Khmer and Mongolian
# inherent vowels and selectors, the variation selectors, which make 'a\ufe0f.csv' look like 'a.csv') and
# the blank Braille pattern, which shows as a space.
INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
                       "\U000e0100-\U000e01ef]")
HASH_CHUNK = 1 << 20
CONTENT_TYPES = {
    ".csv": "text/csv", ".tsv": "text/tab-separated-values", ".txt": "text/plain",
    ".json": "application/json", ".jsonl": "application/jsonl", ".md": "text/markdown",
    ".safetensors": "application/octet-stream", ".bin": "application/octet-stream",
    ".pt": "application/octet-stream", ".model": "application/octet-stream",
    ".zip": "application/zip", ".gz": "application/gzip", ".tgz": "application/gzip",
}


class StoreError(ApiError):
    """A request the store refuses: ``{"error": "<what is wrong>"}`` with the class's status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__({"error": message})
        self.message = message


class BadName(StoreError):
    """A name that is not allowed (it could leave the store, or is reserved or unreadable)."""


class NotFound(StoreError):
    status = 404


class Conflict(StoreError):
    status = 409


class TooLarge(StoreError):
    status = 413


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    sha256: str
    uploaded_at: str  # ISO 8601, UTC
    modified: float  # the file's mtime, for Last-Modified

    @property
    def content_type(self) -> str:
        return content_type(self.name)

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "sha256": self.sha256,
                "uploaded_at": self.uploaded_at, "content_type": self.content_type}


def content_type(name: str) -> str:
    """The type a download is served with; no charset, since the store does not know it."""
    suffix = os.path.splitext(name)[1].lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def normalise_name(name: str) -> str:
    """The store's spelling of ``name`` (NFC), or :class:`BadName` saying which rule it breaks."""
    if not isinstance(name, str) or not name:
        raise BadName("Invalid file name: it is empty.")
    if "\x00" in name:
        raise BadName("Invalid file name: it contains a NUL byte.")
    name = unicodedata.normalize("NFC", name)
    if name.startswith("/"):
        raise BadName("Invalid file name: absolute paths are not allowed; use a name such as themes/2026-02.csv.")
    if "\\" in name:
        raise BadName("Invalid file name: backslashes are not allowed; separate folders with '/'.")
    if "\ufffd" in name:
        raise BadName("Invalid file name: it is not valid UTF-8.")
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
           for ch in name) or INVISIBLE.search(name):
        raise BadName("Invalid file name: control or invisible characters are not allowed.")
    if any(unicodedata.category(ch) == "Zs" and ch != " " for ch in name):
        # 'a\u00a0b.csv' next to 'a b.csv': two names no one can tell apart on screen
        raise BadName("Invalid file name: the only space allowed is the ordinary one (U+0020), not a "
                      "no-break, ideographic or other Unicode space.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName(f"Invalid file name: longer than {MAX_NAME_BYTES} bytes.")
    segments = name.split("/")
    if len(segments) > MAX_DEPTH:
        raise BadName(f"Invalid file name: more than {MAX_DEPTH} folder levels.")
    for segment in segments:
        _check_segment(segment)
    return name


def _check_segment(segment: str) -> None:
    if not segment:
        raise BadName("Invalid file name: empty folder name ('//', or a '/' at the end).")
    if segment in (".", ".."):
        raise BadName("Invalid file name: '.' and '..' are not allowed.")
    if segment.startswith("."):
        raise BadName("Invalid file name: names starting with '.' are reserved by the store.")
    if segment != segment.strip():
        raise BadName("Invalid file name: a name cannot start or end with a space.")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise BadName(f"Invalid file name: a file or folder name is longer than {MAX_SEGMENT_BYTES} bytes.")
    # Lookalikes (fullwidth '／', '．．', the two-dot leader '‥') become '/' or '.' under NFKC;
    # whatever some other tool does with the name later, it must not turn into a path trick.
    compat = unicodedata.normalize("NFKC", segment)
    if compat.startswith(".") or "/" in compat or "\\" in compat:
        raise BadName("Invalid file name: characters that look like '/', '\\' or a leading '.' are not allowed.")


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


class FileStore:
    """Files under ``root``, addressed by normalised names."""

    def __init__(self, root: str | os.PathLike, max_upload_bytes: int | None = None) -> None:
        self.root = Path(os.path.realpath(root))
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()  # renames, deletions, folder creation and removal

    # -- reading ---------------------------------------------------------------------------

    def path_of(self, name: str) -> tuple[str, Path]:
        """The normalised name and its path; no existing part of the path may be a symlink."""
        name = normalise_name(name)
        path = self.root.joinpath(*name.split("/"))
        for part in (path, *path.parents):
            if part == self.root:
                break
            try:
                mode = os.lstat(part).st_mode
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISLNK(mode):
                raise BadName("Invalid file name: symbolic links are not followed.")
        if not self._inside(path):
            raise BadName("Invalid file name: it points outside the store.")
        return name, path

    def _inside(self, path: Path) -> bool:
        real = os.path.realpath(path)
        return real == str(self.root) or real.startswith(str(self.root) + os.sep)

    def resolve(self, name: str) -> Path:
        """The path of the stored regular file ``name``: :class:`BadName` or :class:`NotFound` otherwise."""
        name, path = self.path_of(name)
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No file named '{name}'.") from None
        if not stat.S_ISREG(mode):
            raise NotFound(self._not_a_file(name, mode))
        return path

    def open(self, name: str) -> tuple[BinaryIO, FileInfo]:
        """The file opened for reading (never through a symlink) and its metadata."""
        name, path = self.path_of(name)
        try:  # O_NONBLOCK: a FIFO someone left in the store must not hang the request
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No file named '{name}'.") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise BadName("Invalid file name: symbolic links are not followed.") from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise NotFound(self._not_a_file(name, st.st_mode))
        file = os.fdopen(fd, "rb")
        try:
            return file, self._info(name, path, st, file)
        except BaseException:
            file.close()
            raise

    def info(self, name: str) -> FileInfo:
        file, info = self.open(name)
        file.close()
        return info

    def list(self, prefix: str = "") -> list[FileInfo]:
        """Every stored file whose name starts with ``prefix``, sorted by name."""
        prefix = unicodedata.normalize("NFC", prefix)
        infos = []
        for name, _, _ in self._walk():
            if not name.startswith(prefix):
                continue
            try:
                infos.append(self.info(name))
            except (StoreError, OSError):  # deleted or replaced by a link meanwhile
                continue
        return sorted(infos, key=lambda info: info.name)

    # -- writing ---------------------------------------------------------------------------

    def save(self, name: str, chunks: Iterable[bytes], overwrite: bool = False) -> tuple[FileInfo, bool]:
        """Store ``chunks`` as ``name``; return its metadata and whether it is new.

        Nothing is visible under ``name`` until every chunk is written and synced; if the chunks
        stop with an error (a cut-off upload, a size over the limit), the temporary file goes.
        """
        name, path = self.path_of(name)
        self._check_target(name, path, overwrite)
        tmp = self._temp_file(name, path)
        try:
            digest, size, st = self._write(tmp, chunks)
            with self._lock:
                self._check_target(name, path, overwrite)
                existed = os.path.lexists(path)
                os.replace(tmp, path)
                info = FileInfo(name, size, digest, _utc(st.st_mtime), st.st_mtime)
                self._write_meta(name, st, info)
            _fsync_dir(path.parent)
        except BaseException:
            with self._lock:  # a concurrent upload into the same folder holds its temp file there
                tmp.unlink(missing_ok=True)
                self._prune(path.parent)  # folders made for this upload go with it, if nothing else is in them
            raise
        logger.debug("saved %s: %d bytes, sha256 %s", name, size, digest)
        return info, not existed

    def delete(self, name: str) -> str:
        """Delete the file ``name``; return its normalised name."""
        name, path = self.path_of(name)
        with self._lock:
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound(f"No file named '{name}'.") from None
            if not stat.S_ISREG(mode):
                raise Conflict(self._not_a_file(name, mode))
            path.unlink()
            self._meta_path(name).unlink(missing_ok=True)
            self._prune(path.parent)
        logger.debug("deleted %s", name)
        return name

    # -- the store as a whole --------------------------------------------------------------

    def prepare(self) -> None:
        """Create the root, remove temporary files a killed process left, prove it is writable."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(self.root))
        removed = 0
        for folder, dirs, files in os.walk(self.root):
            for file in files:
                if (file.startswith(TEMP_PREFIX) and file.endswith(TEMP_SUFFIX)) or (
                        os.path.basename(folder) == META_DIR and file.endswith(".tmp")):
                    Path(folder, file).unlink(missing_ok=True)
                    removed += 1
        if removed:
            logger.info("removed %d unfinished upload(s) left by an earlier run", removed)
        if folders := self._remove_empty_folders():
            logger.info("removed %d empty folder(s) left by an earlier run", folders)
        self.probe()

    def probe(self) -> None:
        """Write, sync and remove a small file in the root; raises OSError when that fails."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX + "health-", suffix=TEMP_SUFFIX)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)

    def health(self) -> dict:
        try:
            self.probe()
            writable = True
        except OSError as e:
            logger.error("the store is not writable: %s", e)
            writable = False
        sizes = [st.st_size for _, _, st in self._walk()]
        return {"status": "ok" if writable else "unwritable", "writable": writable,
                "files": len(sizes), "bytes": sum(sizes),
                "free_bytes": shutil.disk_usage(self.root).free,
                "max_upload_bytes": self.max_upload_bytes}

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    # -- internals -------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, Path, os.stat_result]]:
        """(name, path, stat) of every regular file with a valid name; hidden entries and links skipped."""
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            base = Path(folder)
            for file in files:
                path = base / file
                name = path.relative_to(self.root).as_posix()
                try:
                    st = os.lstat(path)
                    if normalise_name(name) != name or not stat.S_ISREG(st.st_mode):
                        continue
                except (BadName, OSError):
                    continue
                yield name, path, st

    @staticmethod
    def _not_a_file(name: str, mode: int) -> str:
        if stat.S_ISDIR(mode):
            return f"'{name}' is a folder, not a file; list it with GET /files?prefix={name}/"
        return f"'{name}' is not a regular file."

    def _check_target(self, name: str, path: Path, overwrite: bool) -> None:
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISDIR(mode):
            raise Conflict(f"'{name}' is a folder; choose another name.")
        if not overwrite:
            raise Conflict(f"'{name}' already exists; replace it with PUT, or POST with ?overwrite=true.")

    def _temp_file(self, name: str, path: Path) -> Path:
        with self._lock:  # under the lock, so a concurrent delete cannot remove the new folder
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise Conflict(f"A file is in the way of the folders of '{name}'.") from None
            except OSError as e:
                raise _storage_error(e) from None
            if not self._inside(path.parent):
                raise BadName("Invalid file name: it points outside the store.")
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
            except OSError as e:
                self._prune(path.parent)
                raise _storage_error(e) from None
        os.close(fd)
        return Path(tmp)

    def _write(self, tmp: Path, chunks: Iterable[bytes]) -> tuple[str, int, os.stat_result]:
        digest, size, limit = hashlib.sha256(), 0, self.max_upload_bytes
        with open(tmp, "wb") as f:
            for chunk in chunks:  # errors of the source (a cut-off upload) pass through as they are
                size += len(chunk)
                if limit is not None and size > limit:
                    raise TooLarge(f"The file is larger than the limit of {limit} bytes.")
                digest.update(chunk)
                try:
                    f.write(chunk)
                except OSError as e:
                    raise _storage_error(e) from None
            try:
                f.flush()
                os.fchmod(f.fileno(), 0o644)
                os.fsync(f.fileno())
            except OSError as e:
                raise _storage_error(e) from None
            return digest.hexdigest(), size, os.fstat(f.fileno())

    def _meta_path(self, name: str) -> Path:
        return self.root / META_DIR / (hashlib.sha256(name.encode("utf-8")).hexdigest() + ".json")

    def _info(self, name: str, path: Path, st: os.stat_result, file: BinaryIO) -> FileInfo:
        meta = self._read_meta(name)
        if meta and (meta.get("ino"), meta.get("size"), meta.get("mtime_ns")) == (
                st.st_ino, st.st_size, st.st_mtime_ns):
            return FileInfo(name, st.st_size, meta["sha256"], meta["uploaded_at"], st.st_mtime)
        digest = hashlib.sha256()
        offset = 0
        while chunk := os.pread(file.fileno(), HASH_CHUNK, offset):
            digest.update(chunk)
            offset += len(chunk)
        info = FileInfo(name, st.st_size, digest.hexdigest(), _utc(st.st_mtime), st.st_mtime)
        logger.debug("computed the checksum of %s (no current record)", name)
        with self._lock:
            if _same_file(path, st):  # not replaced meanwhile by an upload that wrote its own record
                self._write_meta(name, st, info)
        return info

    def _read_meta(self, name: str) -> dict | None:
        try:
            meta = json.loads(self._meta_path(name).read_bytes())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and meta.get("name") == name else None

    def _write_meta(self, name: str, st: os.stat_result, info: FileInfo) -> None:
        record = {"name": name, "sha256": info.sha256, "uploaded_at": info.uploaded_at,
                  "size": st.st_size, "ino": st.st_ino, "mtime_ns": st.st_mtime_ns}
        try:
            write_atomic(self._meta_path(name), json.dumps(record, ensure_ascii=False).encode("utf-8"))
        except OSError as e:  # the file is stored; its record is rebuilt on first use
            logger.warning("could not record the checksum of %s: %s", name, e)

    def _remove_empty_folders(self) -> int:
        """Remove every empty folder (bottom up; hidden ones and the root stay): a folder exists only
        while it holds a file, and an empty one would block its name."""
        removed = 0
        for folder, _, _ in os.walk(self.root, topdown=False):
            path = Path(folder)
            if path == self.root or any(p.startswith(".") for p in path.relative_to(self.root).parts):
                continue
            try:
                path.rmdir()
                removed += 1
            except OSError:  # not empty (or not ours to remove)
                continue
        return removed

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty by a deletion or a failed upload, up to (not including) the root.

        Call it holding ``_lock``: uploads create their folders and temp files under it, so a folder
        another upload is writing into is never empty here."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _storage_error(error: OSError) -> StorageError:
    logger.error("storage error: %s", error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError("The store is out of disk space.")
    return StorageError("The server could not write the file.")


def _same_file(path: Path, st: os.stat_result) -> bool:
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; the file is already in place, so a failure here is only logged."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        logger.warning("could not sync the folder of a new file: %s", e)
