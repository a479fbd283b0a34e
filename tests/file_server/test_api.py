"""file_server over real HTTP: upload, list, download (ranges, ETag), delete, limits, keys, logs."""
from __future__ import annotations

import hashlib
import re
import socket
import time
import unicodedata
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.file_server.conftest import KEY, SMALL_LIMIT, raw, unique

CSV = "theme,stock\n배터리,LG에너지솔루션\n원전,두산에너빌리티\n".encode("utf-8")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_health_reports_the_store_without_its_path(store):
    reply = requests.get(store.url + "/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok" and body["writable"] is True
    assert body["free_bytes"] > 0 and isinstance(body["files"], int)
    assert body["api_key"] == {"writes": False, "reads": False}
    assert str(store.root) not in reply.text and "/tmp" not in reply.text


def test_upload_list_download_delete(store):
    folder = unique("themes")
    name = f"{folder}/2026-02.csv"
    created = requests.post(f"{store.url}/files/{name}", files={"file": ("themes.csv", CSV)})
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["name"] == name and info["size"] == len(CSV) and info["sha256"] == sha(CSV)
    assert info["content_type"] == "text/csv" and info["url"] == f"/files/{name}"
    assert created.headers["Location"] == f"/files/{name}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", info["uploaded_at"])

    listed = requests.get(store.url + "/files", params={"prefix": folder + "/"}).json()
    assert listed == {"files": [info], "count": 1, "total_bytes": len(CSV)}

    got = requests.get(f"{store.url}/files/{name}")
    assert got.status_code == 200 and got.content == CSV
    assert got.headers["Content-Type"] == "text/csv"
    assert got.headers["Content-Disposition"] == "attachment; filename=2026-02.csv"
    assert got.headers["ETag"] == f'"{sha(CSV)}"' and got.headers["Accept-Ranges"] == "bytes"
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    head = requests.head(f"{store.url}/files/{name}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(CSV)) and not head.content

    deleted = requests.delete(f"{store.url}/files/{name}")
    assert deleted.status_code == 200 and deleted.json() == {"result": "deleted", "name": name}
    assert requests.get(f"{store.url}/files/{name}").status_code == 404
    assert requests.get(store.url + "/files", params={"prefix": folder + "/"}).json()["count"] == 0
    assert not (store.root / folder).exists()


def test_overwrite_is_explicit(store):
    name = unique("over") + ".csv"
    url = f"{store.url}/files/{name}"
    assert requests.post(url, files={"file": ("a.csv", b"one\n")}).status_code == 201
    conflict = requests.post(url, files={"file": ("a.csv", b"two\n")})
    assert conflict.status_code == 409 and "already exists" in conflict.json()["error"]
    assert requests.get(url).content == b"one\n"
    replaced = requests.post(url + "?overwrite=true", files={"file": ("a.csv", b"two\n")})
    assert replaced.status_code == 200 and replaced.json()["sha256"] == sha(b"two\n")
    put = requests.put(url, files={"file": ("a.csv", b"three\n")})  # PUT means replace
    assert put.status_code == 200 and requests.get(url).content == b"three\n"
    assert requests.post(url + "?overwrite=maybe", files={"file": ("a.csv", b"x")}).status_code == 400


def test_put_takes_a_raw_body_and_creates(store):
    name = unique("raw") + "/result.json"
    reply = requests.put(f"{store.url}/files/{name}", data=b'{"a": 1}')
    assert reply.status_code == 201 and reply.json()["content_type"] == "application/json"
    assert requests.get(f"{store.url}/files/{name}").content == b'{"a": 1}'


def test_post_to_files_takes_the_uploaded_name(store):
    folder = unique("clustering")
    reply = requests.post(f"{store.url}/files", params={"folder": folder},
                          files={"file": ("분석결과.csv", CSV)})
    assert reply.status_code == 201, reply.text
    assert reply.json()["name"] == f"{folder}/분석결과.csv"
    got = requests.get(store.url + reply.json()["url"])
    assert got.content == CSV
    assert got.headers["Content-Disposition"] == (
        "attachment; filename=____.csv; filename*=UTF-8''" + quote("분석결과.csv"))


@pytest.mark.parametrize("filename", ["../../etc/cron.d/x", "a/b.csv", "..\\x.csv", ".env", "", "x\u202e.csv"])
def test_post_to_files_refuses_bad_uploaded_names(store, filename):
    reply = requests.post(store.url + "/files", files={"file": (filename, b"x")})
    assert reply.status_code == 400 and "error" in reply.json()


def test_nfd_names_are_stored_as_nfc(store):
    nfc = unique("테마") + "/배터리.csv"
    nfd = unicodedata.normalize("NFD", nfc)
    assert requests.put(f"{store.url}/files/{quote(nfd)}", data=b"x").json()["name"] == nfc
    assert requests.get(f"{store.url}/files/{quote(nfc)}").content == b"x"


def test_byte_ranges_and_conditional_requests(store):
    data = bytes(range(256)) * 40
    name = unique("range") + ".bin"
    url = f"{store.url}/files/{name}"
    requests.put(url, data=data)
    part = requests.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert requests.get(url, headers={"Range": "bytes=-16"}).content == data[-16:]
    assert requests.get(url, headers={"Range": "bytes=10000-"}).content == data[10000:]
    assert requests.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    etag = f'"{sha(data)}"'
    assert requests.get(url, headers={"If-None-Match": etag}).status_code == 304
    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"0000"'})
    assert stale.status_code == 200 and stale.content == data  # If-Range mismatch: the whole file
    assert requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206


def test_a_range_the_store_does_not_serve_gets_the_whole_file(store):
    """RFC 9110 14.1.3 and 14.2: several ranges, another unit or a malformed Range are ignored (200); a
    last-bytes range longer than the file is the whole of it (206). Werkzeug answered all four 416."""
    name = unique("range") + ".csv"
    url = f"{store.url}/files/{name}"
    requests.put(url, data=CSV)
    for header in ("bytes=0-0,5-9", "items=0-3", "bytes=5-2"):
        reply = requests.get(url, headers={"Range": header})
        assert reply.status_code == 200 and reply.content == CSV, header
    suffix = requests.get(url, headers={"Range": f"bytes=-{len(CSV) + 1000}"})
    assert suffix.status_code == 206 and suffix.content == CSV
    assert suffix.headers["Content-Range"] == f"bytes 0-{len(CSV) - 1}/{len(CSV)}"


def test_an_unsatisfiable_range_is_an_error_like_the_others(store):
    name = unique("range") + ".csv"
    requests.put(f"{store.url}/files/{name}", data=CSV)
    for send in (requests.get, requests.head):
        reply = send(f"{store.url}/files/{name}", headers={"Range": f"bytes={len(CSV)}-"})
        assert reply.status_code == 416 and reply.headers["Content-Range"] == f"bytes */{len(CSV)}"
    body = requests.get(f"{store.url}/files/{name}", headers={"Range": "bytes=1000-2000"}).json()
    assert body == {"error": f"The requested range is not satisfiable: '{name}' is {len(CSV)} bytes."}


def test_an_empty_file_is_stored_whichever_way_it_is_sent(store):
    """``curl -T empty.csv`` (raw, Content-Length: 0), ``-F file=@empty.csv`` and a chunked body alike."""
    empty = sha(b"")
    folder = unique("empty")
    replies = [requests.put(f"{store.url}/files/{folder}/raw.csv", data=b""),
               requests.post(f"{store.url}/files/{folder}/raw-post.csv", data=b""),
               requests.post(f"{store.url}/files/{folder}/form.csv", files={"file": ("form.csv", b"")}),
               requests.put(f"{store.url}/files/{folder}/chunked.csv", data=iter([]))]
    for reply in replies:
        assert reply.status_code == 201, reply.text
        assert (reply.json()["size"], reply.json()["sha256"]) == (0, empty)
    listed = requests.get(store.url + "/files", params={"prefix": folder + "/"}).json()
    assert listed["count"] == 4 and listed["total_bytes"] == 0
    got = requests.get(f"{store.url}/files/{folder}/raw.csv")
    assert got.status_code == 200 and got.content == b"" and got.headers["ETag"] == f'"{empty}"'


def test_errors_are_json_with_a_message(store):
    missing = requests.get(store.url + "/files/nope/none.csv")
    assert missing.status_code == 404 and missing.json() == {"error": "No file named 'nope/none.csv'."}
    assert requests.delete(store.url + "/files/nope/none.csv").status_code == 404
    no_file = requests.post(store.url + "/files/x.csv", files={"other": ("x.csv", b"x")})
    assert no_file.status_code == 400 and "multipart form field 'file'" in no_file.json()["error"]
    no_body = raw(store.url, "PUT", "/files/x.csv", body=None)  # Content-Length: 0 is an empty file
    assert no_body.status == 400 and "No file" in no_body.json()["error"]
    folder = unique("dir")
    requests.put(f"{store.url}/files/{folder}/a.csv", data=b"a")
    assert requests.get(f"{store.url}/files/{folder}").status_code == 404
    assert requests.put(f"{store.url}/files/{folder}", data=b"a").status_code == 409
    assert requests.delete(f"{store.url}/files/{folder}").status_code == 409
    assert requests.put(f"{store.url}/files/{folder}/a.csv/b.csv", data=b"a").status_code == 409


def test_two_files_in_one_form_are_refused(store):
    name = unique("two") + ".csv"
    reply = requests.post(f"{store.url}/files/{name}", files=[("file", ("a", b"a")), ("file", ("b", b"b"))])
    assert reply.status_code == 400 and "more than one" in reply.json()["error"]
    assert requests.get(f"{store.url}/files/{name}").status_code == 404


# -- hostile names over HTTP: every method, sent byte for byte ----------------------------------

HOSTILE_PATHS = {
    "dot-dot": "/files/../outside/secret.txt",
    "bare dot-dot": "/files/..",
    "trailing dot-dot": "/files/themes/..",
    "dot-dot deep": "/files/a/../../../../etc/passwd",
    "encoded dot-dot": "/files/%2e%2e/outside/secret.txt",
    "encoded dot-dot and slash": "/files/%2e%2e%2foutside%2fsecret.txt",
    "dot-dot after a folder": "/files/themes/..%2F..%2Foutside%2Fsecret.txt",
    "absolute, encoded": "/files/%2Fetc%2Fpasswd",
    "absolute, double slash": "/files//etc/passwd",
    "dot segment": "/files/themes/./x.csv",
    "empty segment": "/files/themes//x.csv",
    "trailing slash": "/files/themes/",
    "backslash": "/files/..%5C..%5Coutside%5Csecret.txt",
    "windows drive": "/files/C:%5Cwindows%5Cwin.ini",
    "NUL": "/files/x.csv%00.txt",
    "newline": "/files/x%0A.csv",
    "CR LF": "/files/x%0D%0ASet-Cookie:%20a=b",
    "tab": "/files/x%09.csv",
    "DEL": "/files/x%7F.csv",
    "overlong UTF-8 dot": "/files/%C0%AE%C0%AE/outside/secret.txt",
    "invalid UTF-8": "/files/%FF.csv",
    "fullwidth dot-dot": "/files/%EF%BC%8E%EF%BC%8E/outside/secret.txt",
    "two-dot leader": "/files/%E2%80%A5/outside/secret.txt",
    "fullwidth solidus": "/files/..%EF%BC%8Foutside",
    "right-to-left override": "/files/x%E2%80%AEvsc.exe",
    "zero-width space": "/files/x%E2%80%8B.csv",
    "hidden": "/files/.bashrc",
    "our temp file": "/files/.upload-x.part",
    "our metadata": "/files/.meta/x.json",
    "leading space": "/files/%20x.csv",
    "segment too long": "/files/" + "a" * 256,
    "no-break space": "/files/a%C2%A0b.csv",  # looks exactly like 'a b.csv'
    "ideographic space": "/files/a%E3%80%80b.csv",
    "hangul filler": "/files/a%E3%85%A4.csv",
}


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize("path", HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_hostile_names_are_refused_with_400(store, method, path):
    reply = raw(store.url, method, path, b"x" if method in ("PUT", "POST") else b"")
    assert reply.status == 400, reply.body
    if method != "HEAD":
        assert "error" in reply.json()
        assert str(store.root) not in reply.body.decode() and "Traceback" not in reply.body.decode()
    outside = store.root.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "outside the store\n"


def test_a_double_encoded_dot_dot_is_only_a_name(store):
    """Decoded once, '%252e%252e' is the literal text '%2e%2e': a harmless name."""
    reply = raw(store.url, "PUT", "/files/%252e%252e", b"x")
    assert reply.status == 201 and reply.json()["name"] == "%2e%2e"
    assert raw(store.url, "DELETE", "/files/%252e%252e").status == 200


def test_symlinks_in_the_store_are_refused(store):
    folder = unique("links")
    (store.root / folder).mkdir()
    outside = store.root.parent / "outside"
    (store.root / folder / "dir").symlink_to(outside)
    (store.root / folder / "file.txt").symlink_to(outside / "secret.txt")
    for path in (f"/files/{folder}/file.txt", f"/files/{folder}/dir/secret.txt", f"/files/{folder}/dir/new.txt"):
        for method in ("GET", "PUT", "DELETE"):
            reply = raw(store.url, method, path, b"x" if method == "PUT" else b"")
            assert reply.status == 400 and "symbolic links" in reply.json()["error"]
    assert (store.root / folder / "file.txt").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert requests.get(store.url + "/files", params={"prefix": folder}).json()["count"] == 0


# -- size limit, API key ------------------------------------------------------------------------

def _key(headers: dict | None = None) -> dict:
    return {"X-API-Key": KEY, **(headers or {})}


@pytest.mark.parametrize("how", ["raw", "multipart", "chunked raw", "chunked multipart"])
def test_uploads_over_the_limit_get_413(locked, how):
    name = unique("big") + ".bin"
    data = b"x" * (SMALL_LIMIT + 1)
    url = f"{locked.url}/files/{name}"
    if how == "raw":
        reply = requests.put(url, data=data, headers=_key())
    elif how == "multipart":
        reply = requests.put(url, files={"file": ("b", data)}, headers=_key())
    elif how == "chunked raw":
        reply = requests.put(url, data=iter([data[:40000], data[40000:]]), headers=_key())
    else:
        body, content_type = requests.models.RequestEncodingMixin._encode_files({"file": ("b", data)}, {})
        reply = requests.put(url, data=iter([body[:1000], body[1000:]]), headers=_key({"Content-Type": content_type}))
    assert reply.status_code == 413, reply.text
    assert str(SMALL_LIMIT) in reply.json()["error"]
    assert requests.get(url, headers=_key()).status_code == 404
    assert locked.leftovers() == []
    exact = requests.put(url, data=data[:-1], headers=_key())
    assert exact.status_code == 201 and exact.json()["size"] == SMALL_LIMIT


def test_writes_need_the_api_key(locked):
    name = unique("key") + ".csv"
    url = f"{locked.url}/files/{name}"
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}):
        for send in (requests.put, requests.post):
            reply = send(url, files={"file": ("a.csv", CSV)}, headers=headers)
            assert reply.status_code == 401 and "X-API-Key" in reply.json()["message"]
        assert requests.post(locked.url + "/files", files={"file": ("a.csv", CSV)}, headers=headers).status_code == 401
    assert requests.put(url, files={"file": ("a.csv", CSV)}, headers=_key()).status_code == 201
    assert requests.delete(url).status_code == 401
    # reads are open on this server
    assert requests.get(url).content == CSV
    assert requests.get(locked.url + "/files").status_code == 200
    assert requests.delete(url, headers=_key()).status_code == 200
    assert requests.get(locked.url + "/health").json()["api_key"] == {"writes": True, "reads": False}
    assert requests.get(locked.url + "/swagger.json").status_code == 200
    assert "[OPENAPI][401 UNAUTHORIZED] {" in locked.server.log()


def test_reads_need_the_key_when_configured(private):
    name = unique("private") + ".csv"
    url = f"{private.url}/files/{name}"
    assert requests.put(url, data=CSV, headers=_key()).status_code == 201
    for read in (requests.get, requests.head):
        assert read(url).status_code == 401
        assert read(private.url + "/files").status_code == 401
        assert read(url, headers={"X-API-Key": "wrong"}).status_code == 401
    assert requests.get(url, headers=_key()).content == CSV
    assert requests.get(private.url + "/files", headers=_key()).json()["count"] >= 1
    assert requests.get(private.url + "/health").status_code == 200  # probes need no key
    assert requests.get(private.url + "/swagger.json").status_code == 401
    assert requests.get(private.url + "/swagger.json", headers=_key()).status_code == 200


# -- cut-off uploads ----------------------------------------------------------------------------

CUT_OFF = "The upload was cut off before the end of the request body"


def _send_and_hang_up(store, head: bytes, body: bytes) -> None:
    """Send part of an upload and close; return once the server has answered it (in its log)."""
    seen = store.server.log().count(CUT_OFF)
    parts = urlsplit(store.url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(head + body)
    deadline = time.monotonic() + 10
    while store.server.log().count(CUT_OFF) == seen:
        assert time.monotonic() < deadline, "the server never noticed the cut-off upload"
        time.sleep(0.05)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_cut_off_upload_never_leaves_a_file(store, framing):
    name = unique("cut") + ".bin"
    old = b"the previous version\n"
    requests.put(f"{store.url}/files/{name}-old", data=old)
    for target in (name, f"{name}-old"):
        if framing == "content-length":
            head = f"PUT /files/{target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n".encode()
            body = b"y" * 300_000
        else:
            head = f"PUT /files/{target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            body = b"".join(b"%x\r\n%s\r\n" % (50_000, b"y" * 50_000) for _ in range(6))  # no last chunk
        _send_and_hang_up(store, head, body)
        assert store.leftovers() == []
    assert requests.get(f"{store.url}/files/{name}").status_code == 404
    assert requests.get(f"{store.url}/files/{name}-old").content == old


def test_a_cut_off_upload_leaves_no_folder_behind(store):
    """The folders made for an upload that never finished go with it, so they block no name."""
    folder = unique("newdir")
    head = f"PUT /files/{folder}/deep/x.csv HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
    _send_and_hang_up(store, head, b"abc")
    assert not (store.root / folder).exists()
    assert requests.get(store.url + "/files", params={"prefix": folder + "/"}).json()["count"] == 0
    reply = requests.put(f"{store.url}/files/{folder}", data=CSV)
    assert reply.status_code == 201, reply.text
    store.server.wait_for_log("[OPENAPI][400 BAD REQUEST] {\n  \"error\": \"" + CUT_OFF)


def test_empty_folders_left_by_an_earlier_run_are_removed_at_start(run_server, tmp_path):
    root = tmp_path / "root"
    (root / "newdir" / "deep").mkdir(parents=True)
    (root / "slow").mkdir()
    (root / "slow" / ".upload-x.part").write_bytes(b"abc")  # a killed process's unfinished upload
    (root / "themes").mkdir()
    (root / "themes" / "a.csv").write_bytes(CSV)
    server = run_server("file_server", "FILE_SERVER", ROOT=root)
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["themes"]
    for name in ("newdir", "slow"):
        assert requests.put(f"{server.url}/files/{name}", data=CSV).status_code == 201
    server.wait_for_log("removed 3 empty folder(s) left by an earlier run")


def test_a_multipart_form_without_its_end_is_refused(store):
    name = unique("partial") + ".csv"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + CSV)  # no closing boundary
    reply = requests.put(f"{store.url}/files/{name}", data=body,
                         headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert reply.status_code == 400 and "incomplete" in reply.json()["error"]
    assert requests.get(f"{store.url}/files/{name}").status_code == 404
    assert store.leftovers() == []


# -- logs and docs ------------------------------------------------------------------------------

def test_every_request_is_logged_in_the_dash_format(store):
    name = unique("logged") + ".csv"
    requests.put(f"{store.url}/files/{name}", files={"file": ("a.csv", CSV)})
    requests.get(f"{store.url}/files/{name}")
    requests.get(f"{store.url}/files/{name}.missing")
    log = store.server.wait_for_log(f"No file named '{name}.missing'")
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - DEBUG - "
    assert re.search(stamp + re.escape(f"[OPENAPI] files/{name}") + "\n", log)
    assert re.search(stamp + re.escape("[OPENAPI][201 CREATED] {") + "\n", log)
    assert re.search(stamp + re.escape("[OPENAPI][200 OK] <text/csv, streamed>"), log)
    assert re.search(stamp + re.escape("[OPENAPI][404 NOT FOUND] {"), log)
    assert "|DEBUG|" not in log


def test_swagger_documents_the_endpoints(store):
    spec = requests.get(store.url + "/swagger.json").json()
    assert {"/files", "/files/{name}", "/health"} <= set(spec["paths"])
    assert set(spec["paths"]["/files/{name}"]) >= {"get", "put", "post", "delete"}
    assert spec["securityDefinitions"]["apikey"]["name"] == "X-API-Key"
    assert requests.get(store.url + "/docs").status_code == 200
