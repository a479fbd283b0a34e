"""Request-input hardening of the shared serving and validation (shared/serve.py, shared/api.py), over HTTP.

Clients that stall mid-request are cut off after ``CLIENT_TIMEOUT`` (and only they: slow readers and
long computations are not); NFD text is answered as its NFC spelling; a text endpoint refuses a body
larger than ``MAX_TEXT_CHARS`` can need before reading it, a chunked one included; whitespace is not
text; a compressed body is refused as such. The servers are real processes on loopback, as
everywhere in the suite.
"""
from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import unicodedata
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT
from tests.guide import article

TITLE, BODY = article()
TOO_SHORT = {"errors": {"text": "text length is too short."}, "message": "Input payload validation failed"}
TC_TEXT = ("/t5_inference", "/tf_inference", "/theme_inference")
TG_TEXT = ("/generation", "/inference", "/relevance")
FS_TIMEOUT, TC_TIMEOUT, TG_TIMEOUT = 1, 2, 1  # CLIENT_TIMEOUT of each test server, seconds


@pytest.fixture(scope="module")
def files(run_server, tmp_path_factory):
    """A file_server with two threads, so two stalled clients would take all of them."""
    return run_server("file_server", "FILE_SERVER", ROOT=tmp_path_factory.mktemp("files"), THREADS=2,
                      CLIENT_TIMEOUT=FS_TIMEOUT)


@pytest.fixture(scope="module")
def tc(run_server, t5_model_dir, tmp_path_factory):
    return run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                      DATA_DIR=tmp_path_factory.mktemp("tc_data"), DEFAULT_THEME_LIST=ROOT / "data" / "themes.csv",
                      CLIENT_TIMEOUT=TC_TIMEOUT)


@pytest.fixture(scope="module")
def tg(run_server, t5_model_dir):
    return run_server("theme_generation", "THEME_GENERATION", T5_MODEL_DIR=t5_model_dir, CLIENT_TIMEOUT=TG_TIMEOUT,
                      MAX_SENTENCES=512,  # room for an article that takes longer than the timeout
                      MAX_TEXT_BYTES=1_000_000)  # set, not derived from MAX_TEXT_CHARS (4,865,536)


def connect(server, timeout: float = 15) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (what every error here is)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data[:200]!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def stall(server, request: str) -> socket.socket:
    """A connection that sends the start of ``request`` and then nothing."""
    sock = connect(server)
    sock.sendall(request.encode())
    return sock


def stalled_put(server, name: str) -> socket.socket:
    return stall(server, f"PUT /files/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")


def answer_time(sock: socket.socket, closes: bool = False) -> tuple[float, int, bytes]:
    """``closes``: the answer must say ``Connection: close`` and the server close the connection."""
    started = time.monotonic()
    status, headers, body = read_response(sock)
    if closes:
        assert headers.get("connection") == "close", headers
        assert sock.recv(1) == b""
    return time.monotonic() - started, status, body


def json_post(path: str, length: int | str, *, chunked: bool = False) -> bytes:
    size = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{size}\r\n\r\n".encode()


def send_in_background(sock: socket.socket, chunks) -> threading.Thread:
    """Send ``chunks`` while the test reads the answer; the server may close before taking them all."""
    def send() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


# -- F1: clients that stall mid-request --------------------------------------------------------------

def test_stalled_bodies_free_their_threads_after_the_client_timeout(files):
    """Two stalled uploads hold both threads of this server; /health answers once CLIENT_TIMEOUT frees them."""
    stalled = [stalled_put(files, f"slow/s{i}.csv") for i in range(2)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert requests.get(files.url + "/health", timeout=FS_TIMEOUT + 10).status_code == 200
        assert time.monotonic() - started < FS_TIMEOUT + 3
        for sock in stalled:  # each stalled client is answered (the store's 408) and dropped
            _, status, body = answer_time(sock)
            assert status == 408, body
            assert sock.recv(1) == b""
        # the threads are free again: two requests at once on this two-thread server
        with requests.Session() as a, requests.Session() as b:
            assert a.get(files.url + "/health", timeout=5).ok and b.get(files.url + "/files", timeout=5).ok
    finally:
        for sock in stalled:
            sock.close()


def test_stalled_clients_that_keep_their_sockets_open_do_not_hold_up_new_ones(files):
    """The cut-off connections are closed without waiting for the client to close too (gthread's graceful
    close would wait 2 s each on the worker's main loop: six of them held up new clients for ~10 s)."""
    stalled = [stalled_put(files, f"slow/open{i}.csv") for i in range(6)]
    try:
        time.sleep(FS_TIMEOUT * 3 + 1)  # every stalled client has been answered; none has closed
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(files.url + "/health", timeout=30).status_code == 200
            assert time.monotonic() - started < 1.5
    finally:
        for sock in stalled:
            sock.close()


def test_a_stalled_request_head_gets_a_json_408(files):
    sock = stall(files, "GET /health HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    with sock:
        elapsed, status, body = answer_time(sock)
    assert status == 408 and elapsed < FS_TIMEOUT + 3, body
    assert json.loads(body)["message"] == "The request's headers did not arrive in time: they must arrive within 1 seconds."


def test_a_head_trickled_byte_by_byte_is_cut_off_too(files):
    """A header line every 0.6 s never stalls a read for the 1 s timeout, but the head as a whole must
    arrive within it (a slowloris would otherwise hold a thread for as long as it likes)."""
    sock = stall(files, "GET /health HTTP/1.1\r\nHost: x\r\n")
    with sock:
        started = time.monotonic()
        status = None
        for i in range(20):
            time.sleep(FS_TIMEOUT * 0.6)
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except OSError:  # cut off
                break
            sock.settimeout(0.01)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except (BlockingIOError, TimeoutError):
                continue
            finally:
                sock.settimeout(15)
        status, _, _ = read_response(sock)
        assert status == 408 and time.monotonic() - started < FS_TIMEOUT + 3


def test_only_a_stalled_client_is_cut_off_not_a_slow_one(files):
    """A steady upload slower than the timeout, and a download the client pauses reading, both complete,
    while a stalled upload beside them is dropped (sends are never timed, reads only between bytes)."""
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the socket buffers hold
    assert requests.put(files.url + "/files/big.bin", data=big, timeout=30).status_code in (200, 201)
    stalled = stalled_put(files, "slow/stalled.csv")
    reader = connect(files, timeout=30)
    reader.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with stalled, reader:
        pieces = [b"theme,stock\n", b"a,b\n", b"c,d\n", b"e,f\n"]

        def steady():
            for piece in pieces:
                time.sleep(FS_TIMEOUT * 0.6)
                yield piece
        r = requests.put(files.url + "/files/slow/steady.csv", data=steady(), timeout=30)
        assert r.status_code in (200, 201), r.text
        assert requests.get(files.url + "/files/slow/steady.csv", timeout=10).content == b"".join(pieces)
        _, status, _ = answer_time(stalled)
        assert status == 408
        time.sleep(FS_TIMEOUT * 1.5)  # the download's reader pauses longer than the timeout
        received = b""
        while chunk := reader.recv(1 << 20):
            received += chunk
    assert received.endswith(big[-4096:]) and received.split(b"\r\n\r\n", 1)[1] == big


@pytest.mark.parametrize("path, content_type, start", [
    ("/t5_inference", "application/json", '{"title":"abc'),
    ("/upload", "multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="file"; filename="t.csv"'),
])
def test_a_stalled_body_on_a_model_server_gets_a_408(tc, path, content_type, start):
    """slow.py of the black-box test: held for more than 150 s before."""
    sock = stall(tc, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: 1000\r\n\r\n{start}")
    with sock:
        elapsed, status, body = answer_time(sock, closes=True)
    assert status == 408 and elapsed < TC_TIMEOUT + 3, body
    assert json.loads(body) == {"message": "The request body did not arrive in time: nothing was received "
                                           f"for {TC_TIMEOUT} seconds."}
    assert requests.post(tc.url + "/tf_inference", json={"title": TITLE, "body": BODY}, timeout=30).ok


def test_a_computation_longer_than_the_timeout_still_answers(tg):
    """CLIENT_TIMEOUT times reads only: an article that takes longer than it to analyse is answered,
    while a stalled body on the same server is cut off."""
    sock = stall(tg, json_post("/relevance", 1000).decode() + '{"title": "abc')
    with sock:
        started = time.monotonic()
        r = requests.post(tg.url + "/inference", json={"title": TITLE, "body": BODY * 40}, timeout=120)
        elapsed = time.monotonic() - started
        assert r.status_code == 200 and r.json()
        assert elapsed > TG_TIMEOUT, "the computation must outlast CLIENT_TIMEOUT for this test to mean anything"
        _, status, _ = answer_time(sock)
        assert status == 408


# -- F2: NFD text ---------------------------------------------------------------------------------

def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize("path", TC_TEXT)
def test_nfd_text_gets_the_nfc_answer_on_theme_classification(tc, path):
    nfc = requests.post(tc.url + path, json={"title": TITLE, "body": BODY}, timeout=60)
    decomposed = requests.post(tc.url + path, json={"title": nfd(TITLE), "body": nfd(BODY)}, timeout=60)
    assert nfd(TITLE) != TITLE and nfc.status_code == decomposed.status_code == 200
    assert decomposed.json() == nfc.json()
    if path == "/tf_inference":
        assert "툴젠" in [m["stock"] for m in decomposed.json()]


@pytest.mark.parametrize("path", TG_TEXT)
def test_nfd_text_gets_the_nfc_answer_on_theme_generation(tg, path):
    nfc = requests.post(tg.url + path, json={"title": TITLE, "body": BODY}, timeout=120)
    decomposed = requests.post(tg.url + path, json={"title": nfd(TITLE), "body": nfd(BODY)}, timeout=120)
    assert nfc.status_code == decomposed.status_code == 200
    assert decomposed.json() == nfc.json()


def test_nfd_text_is_counted_in_nfc_characters(tc):
    """20,000 NFC characters are allowed, however the client spells them: NFD, \\u-escaped (json.dumps'
    default), is about 18 bytes a syllable, and still no 413."""
    body = (BODY * 60)[: 20_000 - len(TITLE)]
    data = json.dumps({"title": nfd(TITLE), "body": nfd(body)})  # ensure_ascii: every jamo a \uXXXX
    assert len(nfd(TITLE + body)) > 30_000 and len(data) > 6 * 20_000 + 65_536
    r = requests.post(tc.url + "/tf_inference", data=data, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text[:300]


# -- F5 and F6: the text endpoints' own byte limit -------------------------------------------------

@pytest.mark.parametrize("server, path, length", [("tc", "/t5_inference", 10_000_000),
                                                  ("tg", "/generation", 100_000_000),
                                                  ("tg", "/relevance", 10_000_000)])
def test_a_text_body_larger_than_max_text_chars_can_need_is_refused_before_it_is_read(request, server, path, length):
    sock = connect(request.getfixturevalue(server), timeout=10)
    with sock:
        sock.sendall(json_post(path, length) + b'{"title": "abc", "body": "')  # and nothing more
        elapsed, status, body = answer_time(sock, closes=True)
    assert status == 413 and elapsed < 3, body[:300]
    reply = json.loads(body)
    assert reply["message"] == "Input payload validation failed"
    assert reply["errors"]["text"].startswith("text is too long: the request body is larger than ")


def test_max_text_bytes_set_replaces_the_derived_limit(tg):
    """2 MB is under what theme_generation's MAX_TEXT_CHARS would allow (4,865,536 bytes) but over its
    MAX_TEXT_BYTES: refused at once, not waited for (a stalled body would end in a 408)."""
    sock = connect(tg, timeout=10)
    with sock:
        sock.sendall(json_post("/relevance", 2_000_000) + b'{"title": "abc", "body": "')
        elapsed, status, body = answer_time(sock)
    assert status == 413 and elapsed < 3, body[:300]
    assert "larger than 1000000 bytes" in json.loads(body)["errors"]["text"]


def test_uploads_keep_max_upload_bytes(tg):
    """/clustering waits for a body far over the text limit (6 MB) instead of refusing it: the stalled
    upload ends in CLIENT_TIMEOUT's 408, not a 413."""
    sock = connect(tg, timeout=10)
    with sock:
        sock.sendall(b"POST /clustering HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 6000000\r\n\r\n--b\r\n")
        elapsed, status, body = answer_time(sock)
    assert status == 408 and elapsed >= TG_TIMEOUT * 0.9, body[:300]
    assert requests.post(tg.url + "/relevance", data=b" " * 5_000_000, timeout=10).status_code == 413


def send_chunked(server, head: bytes, start: bytes, size: int, end: bytes) -> tuple[int, bytes]:
    """``head``, then ``start``, ``size`` bytes of ``a`` and ``end`` as chunks; the answer's status and body."""
    piece = b"a" * (1024 * 1024)
    chunks = [head, b"%x\r\n%s\r\n" % (len(start), start)]
    chunks += [b"%x\r\n%s\r\n" % (len(piece), piece)] * (size // len(piece))
    chunks += [b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end)]
    sock = connect(server, timeout=20)
    with sock:
        send_in_background(sock, chunks)
        _, status, body = answer_time(sock)
    return status, body


@pytest.mark.parametrize("server, path", [("tc", "/tf_inference"), ("tg", "/relevance")])
def test_a_chunked_text_body_over_the_limit_is_a_413(request, server, path):
    """30 MiB: over theme_classification's MAX_UPLOAD_BYTES (20 MiB) too, where it was a 400 "not JSON"."""
    status, body = send_chunked(request.getfixturevalue(server), json_post(path, 0, chunked=True),
                                b'{"title": "abc", "body": "', 30 * 1024 * 1024, b'"}')
    assert status == 413, body[:300]
    assert json.loads(body)["errors"]["text"].startswith("text is too long: the request body is larger than ")


def test_an_nfd_theme_list_matches_nfc_and_nfd_text(tc):
    """An uploaded list is read as NFC too (a CSV saved on macOS may be NFD), so it matches the article
    whichever way it is spelled. /upload keeps MAX_UPLOAD_BYTES for a chunked body (20 MiB, 413)."""
    status, body = send_chunked(tc, b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                    b"Content-Type: multipart/form-data; boundary=b\r\n\r\n",
                                b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n\r\n'
                                b"theme,stock\n", 22 * 1024 * 1024, b"\r\n--b--\r\n")
    assert status == 413 and "larger than the limit of 20971520 bytes" in json.loads(body)["message"], body[:300]
    csv = nfd("theme,stock,keywords\n유전자 치료제/분석,툴젠,유전자|카티\n반도체,삼성전자,반도체\n").encode()
    assert requests.post(tc.url + "/upload", files={"file": ("themes.csv", csv)}, timeout=60).status_code == 200
    for title, body in [(TITLE, BODY), (nfd(TITLE), nfd(BODY))]:
        r = requests.post(tc.url + "/tf_inference", json={"title": title, "body": body}, timeout=60)
        assert [(m["theme"], m["stock"]) for m in r.json()] == [("유전자 치료제/분석", "툴젠")], r.text


# -- F7: whitespace is not text --------------------------------------------------------------------

WHITESPACE = [{"title": "     ", "body": "      "},
              {"title": "\u3000\u3000\u3000", "body": "\u3000\u3000\u3000\u3000"},
              {"title": "\u00a0\u00a0\u00a0", "body": "\u00a0 \u00a0 \u00a0"},
              {"title": " \t\n", "body": "\r\n\u2003\u2009\u3000 "},
              {"title": "  ab  ", "body": "\u3000c\u00a0\n"},  # three characters in all
              {"title": "\u200b" * 5, "body": "\ufeff\u200b"}]  # zero-width spaces and a BOM: nothing to read


@pytest.mark.parametrize("server, path", [("tc", p) for p in TC_TEXT] + [("tg", p) for p in TG_TEXT])
def test_whitespace_is_not_text(request, server, path):
    url = request.getfixturevalue(server).url + path
    for payload in WHITESPACE:
        r = requests.post(url, json=payload, timeout=60)
        assert (r.status_code, r.json()) == (400, TOO_SHORT), payload
    assert requests.post(url, json={"title": " 툴젠 ", "body": " 유전자 "}, timeout=60).status_code == 200


@pytest.mark.parametrize("server, path", [("tc", "/tf_inference"), ("tg", "/relevance")])
def test_a_body_in_another_encoding_is_a_400_naming_utf8(request, server, path):
    """An EUC-KR body is no JSON to the parser; the message says why, not "not a JSON object"."""
    url = request.getfixturevalue(server).url + path
    data = json.dumps({"title": TITLE, "body": BODY}, ensure_ascii=False).encode("euc-kr", "replace")
    answer = requests.post(url, data=data, headers={"Content-Type": "application/json; charset=euc-kr"}, timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["errors"]["json"] == ("The request body is not UTF-8 (it says charset=euc-kr): "
                                               "send the JSON encoded as UTF-8.")
    utf16 = requests.post(url, data=json.dumps({"title": TITLE, "body": BODY}).encode("utf-16"),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert utf16.status_code == 200  # the parser tells UTF-16 by its bytes
    broken = requests.post(url, data=b'{"title": ', headers={"Content-Type": "application/json"}, timeout=30)
    assert broken.json()["errors"]["json"].startswith("The request body must be a JSON object")


@pytest.mark.parametrize("server, path", [("tc", "/tf_inference"), ("tg", "/relevance"), ("tc", "/upload"),
                                          ("tg", "/clustering")])
def test_a_compressed_body_is_a_400_naming_the_fix(request, server, path):
    """The servers read bodies as sent: a gzip body is the contract's 400 for a body that is not JSON,
    with a message naming the fix, not "not a JSON object" or "No file". Identity encoding is no
    compression."""
    url = request.getfixturevalue(server).url + path
    if path in ("/upload", "/clustering"):
        send = {"files": {"file": ("a.csv", gzip.compress(b"theme,stock\n"))}}
    else:
        send = {"data": gzip.compress(json.dumps({"title": TITLE, "body": BODY}).encode()),
                "headers": {"Content-Type": "application/json"}}
    headers = {**send.pop("headers", {}), "Content-Encoding": "gzip"}
    answer = requests.post(url, headers=headers, timeout=30, **send)
    assert answer.status_code == 400, answer.text[:300]
    message = answer.json().get("error") or answer.json()["errors"]["json"]
    assert "compressed (Content-Encoding: gzip)" in message and "uncompressed" in message
    if path == "/relevance":
        plain = requests.post(url, json={"title": TITLE, "body": BODY}, headers={"Content-Encoding": "identity"},
                              timeout=30)
        assert plain.status_code == 200
