"""Hand-made hostile inputs, each with the answer it must get: wrong types, deep nesting, invalid
UTF-8 and unpaired surrogates, 10 MB bodies; empty, binary, million-column, 50 MB-line,
formula-injection and duplicate-header CSVs; malformed HTTP that never reaches the app; a client that
stalls mid-body. Every refusal is checked by ``contract.check_error`` (shape, wording, no internals)."""
from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT
from tests.robustness.conftest import SERVERS
from tests.robustness.contract import check_answer, check_error

TEXT_ENDPOINTS = [("theme_classification", p) for p in ("/t5_inference", "/tf_inference", "/theme_inference")] + \
                 [("theme_generation", p) for p in ("/generation", "/inference", "/relevance")]
ARTICLE = {"title": "삼성전자, HBM 양산", "body": "삼성전자가 반도체 HBM 양산을 시작했다."}
TEN_MB = json.dumps({"title": "삼성전자", "body": "반도체 " * (10 * 1024 * 1024 // 10)}, ensure_ascii=False)

# name, raw body, status, the error key that must name the problem (None: a 2xx)
TEXT_CASES = [
    ("form-encoded, not JSON", b"title=abc&body=defgh", 400, "json"),
    ("a JSON array", b'[{"title": "abcdef", "body": "ghijkl"}]', 400, "json"),
    ("JSON null", b"null", 400, "json"),
    ("empty body", b"", 400, "json"),
    ("numbers for strings", b'{"title": 12345, "body": 1e999}', 400, "title"),
    ("nested objects", b'{"title": {"a": {"b": [1, {"c": null}]}}, "body": "abcdef"}', 400, "title"),
    ("nested 100,000 deep", ('{"title": ' + "[" * 100_000 + "]" * 100_000 + ', "body": "x"}').encode(), 400, "json"),
    ("unclosed nesting 200,000 deep", b"[" * 200_000, 400, "json"),
    ("invalid UTF-8", b'{"title": "\xff\xfe\xfa", "body": "\xc3\x28 abcdef"}', 400, "json"),
    ("unpaired surrogates", b'{"title": "\\ud800 \xec\x82\xbc\xec\x84\xb1", "body": "\\udfff abcdef"}', 400, "title"),
    ("a 5,000-digit number", b'{"title": ' + b"9" * 5000 + b', "body": "abcdef"}', 400, "json"),
    ("NUL and control characters", b'{"title": "\\u0000\\u0001\\u001b[31m", "body": "\\u2028\\u0000\\n\\r"}', 200, None),
    ("UTF-16 JSON", json.dumps(ARTICLE).encode("utf-16"), 200, None),
    ("10 MB body", TEN_MB.encode(), 413, "text"),
]


@pytest.mark.parametrize("server, path", TEXT_ENDPOINTS)
def test_hostile_json_gets_a_clear_4xx_in_the_contract_shape(suite, server, path):
    url = suite[server].url + path
    for name, body, status, key in TEXT_CASES:
        r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        assert r.status_code == status, f"{name}: {r.status_code} {r.text[:300]}"
        check_answer(r)
        if key:
            assert key in r.json()["errors"], f"{name}: {r.text[:300]}"


# -- CSV uploads --------------------------------------------------------------------------------

MILLION = 1_000_000
THEME_ROW, CLUSTER_ROW = "반도체,삼성전자\n", 'id1,"[{""theme"": ""반도체"", ""stock"": ""삼성전자""}]"\n'


def _csv(header: str, row: str) -> dict[str, bytes]:
    """The hostile files, as (header, one good row) of the endpoint shape them."""
    return {
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "neither UTF-8 nor CP949": header.encode() + b"\xff\xff\xff,\xfe\xfe\n",
        "UTF-16": (header + row).encode("utf-16"),
        "header only": header.encode(),
        "a million columns, none needed": (",".join(f"c{i}" for i in range(MILLION)) + "\n" + "x," * MILLION).encode(),
        "a million columns around the needed ones":
            (header.strip() + ",c" * MILLION + "\n" + row.strip() + "," * MILLION + "\n").encode(),
        "one 50 MB line": (header + "a" * (50 * 1024 * 1024) + "\n").encode(),
        "a formula cell": (header + row.replace("반도체", "=cmd|' /C calc'!A0")).encode(),
        "duplicate headers": (header.strip() + "," + header + row.strip() + "," + row).encode(),
    }


# endpoint: {case: (status, words the message must hold)}
EXPECTED = {
    ("theme_classification", "/upload"): {
        "empty": (400, "empty"), "binary": (400, "binary"), "neither UTF-8 nor CP949": (400, "neither UTF-8"),
        "UTF-16": (200, None), "header only": (400, "no theme-stock rows"),  # Excel's "Unicode text", with its BOM
        "a million columns, none needed": (400, "missing column 'theme'"),
        "a million columns around the needed ones": (200, None),
        "one 50 MB line": (413, "larger than the limit of 20971520 bytes"),
        "a formula cell": (400, "starts with '='"), "duplicate headers": (400, "column 'theme' appears 2 times"),
    },
    ("theme_generation", "/clustering"): {
        "empty": (400, "empty"), "binary": (400, "binary"), "neither UTF-8 nor CP949": (400, "neither UTF-8"),
        "UTF-16": (200, None), "header only": (400, "no rows"),
        "a million columns, none needed": (400, "no 'objid' column"),
        "a million columns around the needed ones": (200, None),
        "one 50 MB line": (400, "Line 2: a cell is longer than 16777216 characters"),
        "a formula cell": (400, "starts with '=', '+' or '@' (a spreadsheet formula?)"),  # its only row skipped
        "duplicate headers": (400, "names the column 'objid' 2 times"),
    },
}
ROWS = {("theme_classification", "/upload"): ("theme,stock\n", THEME_ROW),
        ("theme_generation", "/clustering"): ("objid,result\n", CLUSTER_ROW)}


@pytest.mark.parametrize("server, path", list(EXPECTED))
def test_hostile_csv_gets_a_clear_answer(suite, server, path):
    url = suite[server].url + path
    for name, data in _csv(*ROWS[server, path]).items():
        status, words = EXPECTED[server, path][name]
        started = time.monotonic()
        r = requests.post(url, files={"file": ("hostile.csv", data, "text/csv")}, timeout=120)
        assert r.status_code == status, f"{name}: {r.status_code} {r.text[:300]}"
        assert time.monotonic() - started < 30, f"{name} took {time.monotonic() - started:.1f} s"
        check_answer(r)
        if words:
            assert words in check_error(r), f"{name}: {r.text[:300]}"
    if path == "/upload":  # put the shipped list back for the other tests
        with open(ROOT / "data" / "themes.csv", "rb") as f:
            assert requests.post(url, files={"file": f}, timeout=60).status_code == 200


def test_clustering_skips_formula_rows_and_says_so(suite):
    data = ("objid,result\n" + CLUSTER_ROW + CLUSTER_ROW.replace("id1", "=HYPERLINK(\"x\")")).encode()
    r = requests.post(suite["theme_generation"].url + "/clustering", files={"file": ("a.csv", data)}, timeout=60)
    assert r.status_code == 200 and r.headers["X-Rows-Skipped"] == "1" and r.headers["X-Skipped-Lines"] == "3"
    assert "=" not in json.dumps(r.json())


# -- HTTP that never reaches the app ------------------------------------------------------------


def _raw(url: str, data: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
            if length and len(body) >= length[0]:
                break
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


LIMITS = {"theme_classification": 20 * 1024 * 1024, "theme_generation": 256 * 1024 * 1024,
          "file_server": 2 * 1024**3}
RAW_CASES = [  # name, request, status
    ("garbage request line", b"GARBAGE\r\n\r\n", 400),
    ("an unknown HTTP version", b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    ("a header without a colon", b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    ("a 100 kB URL", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("a 100 kB header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
    ("a broken chunked body", b"{reader} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
]
BODY_READERS = {"theme_classification": "POST /tf_inference", "theme_generation": "POST /relevance",
                "file_server": "PUT /files/hostile.csv"}


@pytest.mark.parametrize("server", SERVERS)
def test_malformed_http_gets_json_not_the_servers_own_page(suite, server):
    for name, request, status in RAW_CASES:
        request = request.replace(b"{reader}", BODY_READERS[server].encode())
        got, headers, body = _raw(suite[server].url, request)
        assert (got, headers.get("Content-Type")) == (status, "application/json"), f"{name}: {got} {body[:200]!r}"
        reply = json.loads(body)
        message = reply.get("message") or reply["error"]  # file_server's upload errors are {"error": ...}
        assert len(message) > 10 and "gunicorn" not in message and "parsing" not in message, f"{name}: {message}"


@pytest.mark.parametrize("server", SERVERS)
def test_a_body_over_the_limit_is_refused_before_it_is_read(suite, server):
    path = {"file_server": "/files/big.csv"}.get(server, "/upload" if server == "theme_classification" else "/clustering")
    method = "PUT" if server == "file_server" else "POST"
    request = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
               f"Content-Length: {LIMITS[server] + 2 * 1024 * 1024}\r\n\r\n--b\r\n").encode()
    started = time.monotonic()
    status, _, body = _raw(suite[server].url, request)
    assert time.monotonic() - started < 5
    reply = json.loads(body)
    if server == "file_server" and status == 507:  # a disk with less than 2 GiB free says so first
        assert "disk space" in reply["error"]
        return
    assert status == 413 and "limit" in (reply.get("message") or reply.get("error")), body[:200]


@pytest.mark.parametrize("server", SERVERS)
def test_clients_stalled_mid_body_do_not_stop_the_others(suite, server):
    url = suite[server].url
    parts = urlsplit(url)
    stalled = [socket.create_connection((parts.hostname, parts.port), timeout=10) for _ in range(4)]
    try:
        for s in stalled:
            s.sendall(f"{BODY_READERS[server]} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: 100000\r\n\r\n{{\"title\": ".encode())
        for _ in range(3):
            assert requests.get(url + "/health", timeout=10).status_code == 200
    finally:
        for s in stalled:
            s.close()
