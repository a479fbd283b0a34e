"""Many clients at once: every byte of every upload and download checked by SHA-256."""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.file_server.conftest import unique


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upload(url: str, data: bytes, multipart: bool) -> dict:
    with requests.Session() as session:
        if multipart:
            reply = session.put(url, files={"file": ("data.bin", data)})
        else:
            reply = session.put(url, data=iter([data[i:i + 300_000] for i in range(0, len(data), 300_000)]))
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def _download(url: str) -> tuple[str, str]:
    """(SHA-256 of the bytes received, the ETag the server sent with them)."""
    with requests.get(url, stream=True, timeout=60) as reply:
        assert reply.status_code == 200, reply.text
        digest = hashlib.sha256()
        for chunk in reply.iter_content(128 * 1024):
            digest.update(chunk)
        return digest.hexdigest(), reply.headers["ETag"].strip('"')


def test_concurrent_uploads_and_downloads_keep_every_byte(store):
    folder = unique("concurrent")
    files = {f"{store.url}/files/{folder}/f{i}.bin": os.urandom(1_000_000 + 77_777 * i) for i in range(8)}
    shared_url = f"{store.url}/files/{folder}/shared.bin"
    versions = [os.urandom(1_500_000 + i) for i in range(4)]
    version_shas = {sha(v) for v in versions}
    _upload(shared_url, versions[0], multipart=True)

    with ThreadPoolExecutor(max_workers=12) as pool:
        uploads = [pool.submit(_upload, url, data, i % 2 == 0) for i, (url, data) in enumerate(files.items())]
        # while the shared file is replaced again and again, readers must get one whole version
        replaces = [pool.submit(_upload, shared_url, versions[i % 4], i % 2 == 1) for i in range(12)]
        reads = [pool.submit(_download, shared_url) for _ in range(24)]
        for future in uploads + replaces:
            future.result()
        for future in reads:
            received, etag = future.result()
            assert received == etag and received in version_shas

    with ThreadPoolExecutor(max_workers=8) as pool:
        downloads = dict(zip(files, pool.map(_download, files)))
    for url, data in files.items():
        assert downloads[url] == (sha(data), sha(data))

    listed = requests.get(store.url + "/files", params={"prefix": folder + "/"}).json()
    by_name = {f["name"]: f for f in listed["files"]}
    assert listed["count"] == len(files) + 1
    for url, data in files.items():
        info = by_name[url.split("/files/", 1)[1]]
        assert (info["size"], info["sha256"]) == (len(data), sha(data))
    assert by_name[f"{folder}/shared.bin"]["sha256"] in version_shas
    assert store.leftovers() == []
