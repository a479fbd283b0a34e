"""HTTP resources of file_server: parse, call the store, return."""
from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Response, current_app, request
from flask_restx import Namespace, Resource, fields
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import wrap_file

from shared.auth import HEADER as API_KEY_HEADER  # make_api checks it on every route but /health
from shared.errors import BadUpload, StorageError
from file_server.store import BadName, FileInfo, FileStore, StoreError
from file_server.uploads import MultipartUpload, Upload, open_upload

logger = logging.getLogger(__name__)


ns = Namespace("files", path="/", description="The suite's file store: theme lists, clustering inputs, "
               "results and model artifacts",
               authorizations={"apikey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}})


class StoreNameConverter(BaseConverter):
    """Everything after ``/files/``, slashes included, even a leading one: the store judges it."""

    regex = "[\\s\\S]+"  # any character, newlines included
    part_isolating = False


error_model = ns.model("Error", {"error": fields.String(example="'themes/2026-02.csv' already exists; "
                                                        "replace it with PUT, or POST with ?overwrite=true.")})
auth_error = ns.model("AuthError", {
    "message": fields.String(example=f"A valid API key is required in the {API_KEY_HEADER} header.")})
file_model = ns.model("File", {
    "name": fields.String(example="themes/2026-02.csv"),
    "size": fields.Integer(example=48213, description="bytes"),
    "sha256": fields.String(example="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    "uploaded_at": fields.String(example="2026-02-03T09:15:00+00:00", description="ISO 8601, UTC"),
    "content_type": fields.String(example="text/csv"),
    "url": fields.String(example="/files/themes/2026-02.csv"),
})
list_model = ns.model("FileList", {
    "files": fields.List(fields.Nested(file_model)),
    "count": fields.Integer(example=1),
    "total_bytes": fields.Integer(example=48213),
})
deleted_model = ns.model("Deleted", {"result": fields.String(example="deleted"),
                                     "name": fields.String(example="themes/2026-02.csv")})
health_model = ns.model("Health", {
    "status": fields.String(enum=["ok", "unwritable"]), "writable": fields.Boolean,
    "files": fields.Integer, "bytes": fields.Integer, "free_bytes": fields.Integer,
    "max_upload_bytes": fields.Integer, "api_key": fields.Raw(example={"writes": True, "reads": False}),
})

list_args = ns.parser()
list_args.add_argument("prefix", location="args", help="only names starting with this, e.g. themes/")
put_form = ns.parser()
put_form.add_argument("file", location="files", type="FileStorage", required=True,
                      help="the file (multipart field 'file'); a raw request body works too")
post_form = put_form.copy()
post_form.add_argument("overwrite", location="args", type=bool, default=False,
                       help="replace an existing file instead of answering 409")
folder_form = post_form.copy()
folder_form.add_argument("folder", location="args",
                         help="folder to store the file in, e.g. themes (default: the top level)")


def _store() -> FileStore:
    return current_app.extensions["file_server"]


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise StoreError(f"Query parameter '{name}' must be true or false.")


def _open_upload() -> Upload:
    length = request.content_length
    if length is not None and length > _store().free_bytes():
        raise StorageError("Not enough free disk space for this upload.")
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return open_upload(request.stream.read, request.content_type, length, chunked,
                       _store().max_upload_bytes)


def _url(name: str) -> str:
    return "/files/" + quote(name, safe="/")


def _describe(info: FileInfo) -> dict:
    return {**info.as_dict(), "url": _url(info.name)}


def _save(name: str, upload: Upload, overwrite: bool):
    logger.debug("upload %s", name)
    info, created = _store().save(name, upload.chunks(), overwrite)
    if created:
        return _describe(info), 201, {"Location": _url(info.name)}
    return _describe(info), 200


def _download(name: str) -> Response | tuple[dict, int, dict[str, str]]:
    file, info = _store().open(name)
    try:
        response = current_app.response_class(wrap_file(request.environ, file), direct_passthrough=True,
                                              content_type=info.content_type)
        response.content_length = info.size
        response.last_modified = info.modified
        response.set_etag(info.sha256)
        response.cache_control.no_cache = True
        response.headers["X-Content-Type-Options"] = "nosniff"  # an uploaded .html stays a download
        response.headers.set("Content-Disposition", "attachment", **_filename_params(info.name))
        return response.make_conditional(_served_range(request.environ, info.size), accept_ranges=True,
                                          complete_length=info.size)
    except RequestedRangeNotSatisfiable:  # answered in the store's error shape, not Werkzeug's {"message"}
        file.close()
        return ({"error": f"The requested range is not satisfiable: '{info.name}' is {info.size} bytes."},
                416, {"Content-Range": f"bytes */{info.size}"})
    except BaseException:
        file.close()
        raise


def _served_range(environ: dict, size: int) -> dict:
    """The request as the download answers it (RFC 9110 14.1.3, 14.2). Werkzeug refuses with a 416
    any ``Range`` it does not serve; here only one outside the file is. A ``Range`` that is not one
    byte range (several ranges, another unit, malformed) is ignored: the whole file, 200. A last-bytes
    range longer than the file is the whole file, 206."""
    header = environ.get("HTTP_RANGE")
    if header is None:
        return environ
    parsed = parse_range_header(header)
    environ = dict(environ)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del environ["HTTP_RANGE"]
    elif (start := parsed.ranges[0][0]) < 0 and -start > size:
        environ["HTTP_RANGE"] = "bytes=0-"
    return environ


def _filename_params(name: str) -> dict[str, str]:
    """``filename=`` for every client, plus RFC 5987 ``filename*=`` when the name is not ASCII."""
    base = name.rsplit("/", 1)[-1]
    if base.isascii():
        return {"filename": base}
    fallback = base.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return {"filename": fallback, "filename*": "UTF-8''" + quote(base, safe="!#$&+-.^_`|~")}


@ns.route("/files")
class Files(Resource):
    @ns.expect(list_args)
    @ns.response(200, "the stored files, sorted by name", list_model)
    @ns.response(401, "API_KEY_FOR_READS is on and the key is missing or wrong", auth_error)
    @ns.doc(security="apikey")
    def get(self):
        """List stored files with size, SHA-256 and upload time (?prefix=themes/ for one folder)."""
        infos = _store().list(request.args.get("prefix", ""))
        return {"files": [_describe(info) for info in infos], "count": len(infos),
                "total_bytes": sum(info.size for info in infos)}

    @ns.expect(folder_form)
    @ns.response(201, "stored under the uploaded file's own name", file_model)
    @ns.response(200, "replaced (?overwrite=true)", file_model)
    @ns.response(400, "no file, no file name, a bad name, or an incomplete form", error_model)
    @ns.response(401, "API key missing or wrong", auth_error)
    @ns.response(409, "a file of that name exists and overwrite is off", error_model)
    @ns.response(413, "larger than MAX_UPLOAD_BYTES", error_model)
    @ns.response(507, "not enough disk space", error_model)
    @ns.doc(security="apikey")
    def post(self):
        """Upload a multipart file under its own file name, into ?folder= if given."""
        upload = _open_upload()
        filename = upload.filename
        if not isinstance(upload, MultipartUpload) or not filename:
            raise BadUpload("POST /files takes its name from the multipart file (curl -F file=@x.csv); "
                            "to choose the name, POST or PUT to /files/<name>.")
        if "/" in filename or "\\" in filename:
            raise BadName("Invalid file name: the uploaded file name must not contain '/' or '\\'; "
                          "use ?folder= to choose a folder.")
        folder = request.args.get("folder", "").removesuffix("/")
        return _save(f"{folder}/{filename}" if folder else filename, upload, _flag("overwrite"))


@ns.route("/files/<store_name:name>")
@ns.param("name", "the stored name, folders included, e.g. themes/2026-02.csv")
class StoredFile(Resource):
    @ns.response(200, "the file (Range requests answer 206)")
    @ns.response(304, "not modified (If-None-Match matched the ETag, which is the SHA-256)")
    @ns.response(400, "a name that is not allowed", error_model)
    @ns.response(401, "API_KEY_FOR_READS is on and the key is missing or wrong", auth_error)
    @ns.response(404, "no such file", error_model)
    @ns.response(416, "range not satisfiable (Content-Range: bytes */<size>)", error_model)
    @ns.doc(security="apikey")
    def get(self, name: str):
        """Download a file, streamed, with ETag (SHA-256) and byte ranges."""
        return _download(name)

    @ns.expect(post_form)
    @ns.response(201, "created", file_model)
    @ns.response(200, "replaced (?overwrite=true)", file_model)
    @ns.response(400, "no file, a bad name, or an incomplete upload", error_model)
    @ns.response(401, "API key missing or wrong", auth_error)
    @ns.response(409, "the file exists and overwrite is off, or the name is a folder", error_model)
    @ns.response(413, "larger than MAX_UPLOAD_BYTES", error_model)
    @ns.response(507, "not enough disk space", error_model)
    @ns.doc(security="apikey")
    def post(self, name: str):
        """Create a file from a multipart upload; an existing one is replaced only with ?overwrite=true."""
        _store().path_of(name)  # a bad name is refused before the body is read
        return _save(name, _open_upload(), _flag("overwrite"))

    @ns.expect(put_form)
    @ns.response(201, "created", file_model)
    @ns.response(200, "replaced", file_model)
    @ns.response(400, "no file, a bad name, or an incomplete upload", error_model)
    @ns.response(401, "API key missing or wrong", auth_error)
    @ns.response(409, "the name is a folder", error_model)
    @ns.response(413, "larger than MAX_UPLOAD_BYTES", error_model)
    @ns.response(507, "not enough disk space", error_model)
    @ns.doc(security="apikey")
    def put(self, name: str):
        """Create or replace a file, from a multipart upload (-F file=@x) or the raw body (-T x)."""
        _store().path_of(name)
        return _save(name, _open_upload(), overwrite=True)

    @ns.response(200, "deleted", deleted_model)
    @ns.response(400, "a name that is not allowed", error_model)
    @ns.response(401, "API key missing or wrong", auth_error)
    @ns.response(404, "no such file", error_model)
    @ns.response(409, "the name is a folder", error_model)
    @ns.doc(security="apikey")
    def delete(self, name: str):
        """Delete a file; folders left empty go with it."""
        return {"result": "deleted", "name": _store().delete(name)}


@ns.route("/health")
class Health(Resource):
    @ns.response(200, "the store is writable", health_model)
    @ns.response(503, "the store cannot be written", health_model)
    def get(self):
        """Writes and removes a probe file in the store; counts files and free disk."""
        report = _store().health()
        key = bool(current_app.config["API_KEY"])
        report["api_key"] = {"writes": key, "reads": key and current_app.config["API_KEY_FOR_READS"]}
        return report, 200 if report["writable"] else 503
