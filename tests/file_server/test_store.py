"""FileStore without HTTP: name rules, confinement, atomic saves, checksum records."""
from __future__ import annotations

import hashlib
import json
import os
import threading
import unicodedata
from pathlib import Path

import pytest

from file_server.store import (MAX_SEGMENT_BYTES, BadName, Conflict, FileStore, NotFound, TooLarge,
                               normalise_name)

HOSTILE = {
    "parent": "../etc/passwd",
    "parent inside": "themes/../../x.csv",
    "dot segment": "themes/./x.csv",
    "absolute": "/etc/passwd",
    "backslash": "..\\..\\win.ini",
    "nul": "x.csv\x00.txt",
    "newline": "x\n.csv",
    "tab": "x\t.csv",
    "delete char": "x\x7f.csv",
    "right-to-left override": "x\u202ecsv.exe",
    "zero-width space": "x\u200b.csv",
    "line separator": "x\u2028.csv",
    "fullwidth dots": "\uff0e\uff0e/x.csv",
    "two-dot leader": "\u2025/x.csv",
    "one-dot leader": "\u2024\u2024/x.csv",
    "fullwidth solidus": "a\uff0fb.csv",
    "fullwidth backslash": "a\uff3cb.csv",
    "replacement char": "x\ufffd.csv",
    "hidden": ".env",
    "our temp file": ".upload-abc.part",
    "our metadata": ".meta/x.json",
    "empty": "",
    "empty segment": "themes//x.csv",
    "trailing slash": "themes/",
    "leading space": " x.csv",
    "trailing space": "x.csv ",
    "segment too long": "a" * (MAX_SEGMENT_BYTES + 1),
    "korean segment too long": "가" * 86,  # 258 bytes in UTF-8
    "too deep": "/".join(["d"] * 17) + "/x.csv",
    # spaces no one can tell from ' ' on screen ('a\u00a0b.csv' beside 'a b.csv'), and blank letters
    "no-break space": "a\u00a0b.csv",
    "narrow no-break space": "a\u202fb.csv",
    "em space": "a\u2003b.csv",
    "ideographic space": "결과\u3000파일.csv",
    "hangul filler": "a\u3164.csv",
    "halfwidth hangul filler": "\uffa0/x.csv",
    "hangul choseong filler": "a\u115f.csv",
    "braille blank": "a\u2800b.csv",
    "variation selector": "a\ufe0f.csv",  # looks exactly like a.csv
    "ideographic variation selector": "a\U000e0100.csv",
    "mongolian selector": "a\u180b.csv",
}


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_are_refused(name):
    with pytest.raises(BadName):
        normalise_name(name)


@pytest.mark.parametrize("name", ["themes/2026-02.csv", "models/theme-t5/model.safetensors", "x",
                                  "가" * 85, "a" * MAX_SEGMENT_BYTES, "결과 파일 (최종).csv", "a..b.csv"])
def test_ordinary_names_pass_unchanged(name):
    assert normalise_name(name) == name


def test_names_are_nfc():
    decomposed = unicodedata.normalize("NFD", "테마/배터리.csv")
    assert decomposed != "테마/배터리.csv"
    assert normalise_name(decomposed) == "테마/배터리.csv"


@pytest.fixture
def store(tmp_path) -> FileStore:
    store = FileStore(tmp_path / "root", max_upload_bytes=1000)
    store.prepare()
    return store


def test_save_resolve_open_delete(store):
    info, created = store.save("themes/a.csv", [b"theme,", b"stock\n"])
    assert created and info.size == 12 and info.sha256 == hashlib.sha256(b"theme,stock\n").hexdigest()
    assert store.resolve("themes/a.csv") == store.root / "themes" / "a.csv"
    file, opened = store.open("themes/a.csv")
    with file:
        assert file.read() == b"theme,stock\n" and opened == info
    assert store.delete("themes/a.csv") == "themes/a.csv"
    assert not (store.root / "themes").exists()  # the folder it left empty went too
    with pytest.raises(NotFound):
        store.resolve("themes/a.csv")


def test_overwrite_must_be_explicit(store):
    store.save("a.csv", [b"one"])
    with pytest.raises(Conflict):
        store.save("a.csv", [b"two"])
    info, created = store.save("a.csv", [b"two"], overwrite=True)
    assert not created and store.resolve("a.csv").read_bytes() == b"two"


def test_folder_and_file_cannot_swap_places(store):
    store.save("themes/a.csv", [b"x"])
    with pytest.raises(Conflict):
        store.save("themes", [b"x"], overwrite=True)
    with pytest.raises(Conflict):
        store.save("themes/a.csv/b.csv", [b"x"])
    with pytest.raises(NotFound):
        store.resolve("themes")


def _cut_off():
    yield b"x" * 100
    raise ConnectionResetError("client went away")


def test_a_failed_upload_leaves_nothing_and_keeps_the_old_file(store):
    store.save("a.csv", [b"old"])
    with pytest.raises(ConnectionResetError):
        store.save("a.csv", _cut_off(), overwrite=True)
    with pytest.raises(ConnectionResetError):
        store.save("new/b.csv", _cut_off())
    with pytest.raises(TooLarge):
        store.save("big.csv", [b"x" * 600, b"x" * 600])
    assert store.resolve("a.csv").read_bytes() == b"old"
    assert [p.name for p in store.root.rglob("*") if p.is_file() and ".meta" not in p.parts] == ["a.csv"]


def _folders(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir() and ".meta" not in p.parts)


def test_a_failed_upload_removes_the_folders_it_made(store):
    store.save("kept/a.csv", [b"a"])
    for name in ("newdir/deep/x.csv", "kept/sub/x.csv", "kept/x.csv"):
        with pytest.raises(ConnectionResetError):
            store.save(name, _cut_off())
    with pytest.raises(TooLarge):
        store.save("big/x.csv", [b"x" * 600, b"x" * 600])
    assert _folders(store.root) == ["kept"]  # a folder that holds a file stays
    assert store.resolve("kept/a.csv").read_bytes() == b"a"
    info, created = store.save("newdir", [b"x"])  # the name is not blocked by an empty folder
    assert created and store.resolve("newdir").read_bytes() == b"x"


def test_a_failed_upload_keeps_the_folder_another_upload_is_writing_into(store):
    started, release = threading.Event(), threading.Event()

    def slow():
        yield b"a"
        started.set()
        assert release.wait(10)
        yield b"b"

    writer = threading.Thread(target=store.save, args=("shared/a.csv", slow()))
    writer.start()
    try:
        assert started.wait(10)
        with pytest.raises(ConnectionResetError):
            store.save("shared/deep/b.csv", _cut_off())
        assert _folders(store.root) == ["shared"]  # 'deep' went; 'shared' holds the other upload
    finally:
        release.set()
        writer.join()
    assert store.resolve("shared/a.csv").read_bytes() == b"ab"


def test_a_failed_upload_does_not_prune_a_folder_another_upload_has_just_made(store, monkeypatch):
    """The race the store's lock closes: upload B has made (or found) the folder and is about to create
    its temporary file in it when upload A, failing in the same folder, removes the folders it thinks
    empty. B must still store its file."""
    import file_server.store as store_module

    b_making_temp, a_done = threading.Event(), threading.Event()
    real_mkstemp = store_module.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if threading.current_thread().name == "upload-b":
            b_making_temp.set()
            a_done.wait(1)  # without the lock, A prunes the folder here
        return real_mkstemp(*args, **kwargs)

    def failing():
        yield b"a"
        assert b_making_temp.wait(10)
        raise ConnectionResetError("client went away")

    monkeypatch.setattr(store_module.tempfile, "mkstemp", mkstemp)
    outcome = {}
    a = threading.Thread(target=lambda: outcome.setdefault("a", pytest.raises(ConnectionResetError, store.save,
                                                                             "shared/a.csv", failing())))
    b = threading.Thread(target=lambda: outcome.setdefault("b", store.save("shared/b.csv", iter([b"b"]))),
                         name="upload-b")
    a.start()
    while not list((store.root / "shared").glob("*")):  # A's temporary file is there
        threading.Event().wait(0.01)
    b.start()
    a.join(10)
    a_done.set()
    b.join(10)
    assert "b" in outcome and store.resolve("shared/b.csv").read_bytes() == b"b"


def test_symlinks_are_never_followed(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (store.root / "link_dir").symlink_to(outside)
    (store.root / "link.csv").symlink_to(outside / "secret.txt")
    for name in ("link.csv", "link_dir/secret.txt", "link_dir/new.csv"):
        with pytest.raises(BadName):
            store.resolve(name)
        with pytest.raises(BadName):
            store.save(name, [b"x"], overwrite=True)
        with pytest.raises(BadName):
            store.delete(name)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"
    assert store.list() == []


def test_a_fifo_is_not_a_file(store):
    os.mkfifo(store.root / "pipe.csv")
    with pytest.raises(NotFound):
        store.open("pipe.csv")  # returns at once: O_NONBLOCK, then refused as not a regular file


def test_files_copied_in_by_hand_get_a_checksum(store):
    (store.root / "models").mkdir()
    (store.root / "models" / "w.bin").write_bytes(b"weights")
    (store.root / "models" / "bad\nname.bin").write_bytes(b"unreachable")
    [info] = store.list()
    assert info.name == "models/w.bin" and info.sha256 == hashlib.sha256(b"weights").hexdigest()
    # replaced by hand: the old record no longer matches the file, so it is recomputed
    (store.root / "models" / "w.bin").write_bytes(b"new weights!")
    assert store.info("models/w.bin").sha256 == hashlib.sha256(b"new weights!").hexdigest()


def test_the_record_of_a_file_names_it(store):
    info, _ = store.save("themes/a.csv", [b"abc"])
    [record] = (store.root / ".meta").iterdir()
    assert json.loads(record.read_text())["name"] == "themes/a.csv"


def test_prepare_removes_unfinished_uploads(tmp_path):
    root = tmp_path / "root"
    (root / "themes").mkdir(parents=True)
    (root / "themes" / ".upload-abc.part").write_bytes(b"half")
    (root / "themes" / "kept.csv").write_bytes(b"whole")
    FileStore(root).prepare()
    assert sorted(p.name for p in (root / "themes").iterdir()) == ["kept.csv"]


def test_prepare_removes_empty_folders(tmp_path):
    """A folder exists only while it holds a file: empty ones left by an earlier run would block their names."""
    root = tmp_path / "root"
    (root / "newdir" / "deep").mkdir(parents=True)
    (root / "cut" / "off").mkdir(parents=True)
    (root / "cut" / "off" / ".upload-abc.part").write_bytes(b"half")  # a killed upload's only trace
    (root / "themes" / "empty").mkdir(parents=True)
    (root / "themes" / "kept.csv").write_bytes(b"whole")
    (root / ".meta").mkdir()
    store = FileStore(root)
    store.prepare()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        ".meta", "themes", "themes/kept.csv"]
    assert store.save("newdir", [b"x"])[1]


def test_concurrent_saves_of_one_name_leave_one_whole_version(store):
    store.max_upload_bytes = None
    versions = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=store.save, args=("same.bin", [v[:100_000], v[100_000:]], True))
               for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = store.resolve("same.bin").read_bytes()
    assert data in versions
    assert store.info("same.bin").sha256 == hashlib.sha256(data).hexdigest()
    assert not list(store.root.rglob(".upload-*"))


def test_resolve_is_usable_without_prepare(tmp_path):
    """Other servers read a store they do not own: no folder is created, nothing is written."""
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "2026-02.csv").write_text("theme,stock\n")
    path = FileStore(tmp_path).resolve("themes/2026-02.csv")
    assert path.read_text() == "theme,stock\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["themes"]
