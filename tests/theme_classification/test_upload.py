"""/upload: encodings, row-level errors that change nothing, atomic switch, survival across restarts."""
import os
import threading
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.guide import article

TITLE, BODY = article()
GENE_LIST = "theme,stock,code\n유전자,툴젠,199800\n반도체,삼성전자,005930\n"
CART_LIST = "테마,종목,종목코드,키워드\n카티,툴젠,199800,CAR-T|세포치료제\n반도체,삼성전자,005930,\n"


def start(run_server, t5_model_dir, data_dir):
    s = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                   DATA_DIR=data_dir, DEFAULT_THEME_LIST=ROOT / "data" / "themes.csv")
    s.data_dir = data_dir
    return s


@pytest.fixture(scope="module")
def server(run_server, t5_model_dir, tmp_path_factory):
    """One server for this module's tests; each test uploads the list it starts from."""
    return start(run_server, t5_model_dir, tmp_path_factory.mktemp("upload") / "data")


def upload(server, content: bytes, name="themes.csv"):
    return requests.post(server.url + "/upload", files={"file": (name, content, "text/csv")}, timeout=60)


def tf(server):
    r = requests.post(server.url + "/tf_inference", json={"title": TITLE, "body": BODY}, timeout=60)
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949", "euc-kr"])
def test_the_guide_counts_after_uploading_a_list_with_the_pair(server, encoding):
    r = upload(server, GENE_LIST.encode(encoding))
    assert r.status_code == 200 and r.json() == {"result": "success"}
    [match] = tf(server)
    assert (match["theme"], match["stock"], match["theme_count"], match["stock_count"]) == ("유전자", "툴젠", 4, 3)
    assert match["score"] == 0.0  # every theme word in the article is this theme's


def test_an_uploaded_list_s_business_words_evidence_its_themes(server):
    """A story on a food maker that writes no keyword of its theme: only the uploaded list's business word
    (식품, in the title's company name) ties it, so without the column it is not in the result."""
    title, body = "삼양식품, 역대 최고가 경신", "불닭볶음면 수출이 늘며 삼양식품 주가가 14% 올랐다."
    with_words = "theme,stock,code,keywords,business\n음식료,삼양식품,003230,음식료|식품주,식품|라면\n"
    results = []
    for content in (with_words, "theme,stock,code,keywords\n음식료,삼양식품,003230,음식료|식품주\n"):
        assert upload(server, content.encode("cp949")).status_code == 200
        r = requests.post(server.url + "/theme_inference", json={"title": title, "body": body}, timeout=60)
        assert r.status_code == 200
        results.append([(p["theme"], p["stock"]) for p in r.json()["result"]])
    assert results == [[("음식료", "삼양식품")], []]


def test_an_accepted_list_is_the_one_loaded_after_a_restart(run_server, t5_model_dir, tmp_path):
    server = start(run_server, t5_model_dir, tmp_path / "data")
    assert upload(server, CART_LIST.encode("cp949")).status_code == 200
    assert server.stop() == 0
    stale = server.data_dir / ".themes.csv.k1ll3d.tmp"  # what an upload killed before its rename leaves
    stale.write_text(GENE_LIST, encoding="utf-8")
    old = time.time() - 3600  # an hour old: not another process's upload in progress
    os.utime(stale, (old, old))
    fresh = server.data_dir / ".themes.csv.inprogress.tmp"
    fresh.write_text(GENE_LIST, encoding="utf-8")
    again = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                       DATA_DIR=server.data_dir)
    health = requests.get(again.url + "/health", timeout=10).json()
    assert health["theme_list"] == {"pairs": 2, "themes": 2, "stocks": 2, "source": "uploaded"}
    assert not stale.exists()
    assert fresh.exists()  # may be another process's upload, about to be renamed
    [match] = tf(again)
    assert (match["theme"], match["theme_count"]) == ("카티", 7)  # 카티 ×3, CAR-T ×2, 세포치료제 ×2


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    ("theme,code\n유전자,199800\n".encode(), "missing column 'stock'"),
    ("theme,stock\n유전자,툴젠\n반도체,\n".encode(), "Row 3: column 'stock' is empty"),
    ("theme,stock\n유전자,툴젠,extra\n".encode(), "Row 2: 3 fields, but the header has 2"),
    ("theme,stock,code\n유전자,툴젠,1234567\n".encode(), "Row 2: column 'code'"),
    ("theme,stock\n=cmd|' /C calc'!A0,툴젠\n".encode(), "Row 2: column 'theme' starts with '='"),
    ("theme,theme,stock\na,b,c\n".encode(), "column 'theme' appears 2 times"),
    ("theme,stock\n".encode(), "no theme-stock rows"),
    ('theme,stock\n"unclosed,툴젠\n'.encode(), "Row"),
])
def test_a_malformed_file_is_a_400_naming_the_problem_and_changes_nothing(server, content, message):
    assert upload(server, GENE_LIST.encode()).status_code == 200
    r = upload(server, content)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    assert [m["theme"] for m in tf(server)] == ["유전자"]
    assert (server.data_dir / "themes.csv").read_text(encoding="utf-8").count("\n") == 3


def test_no_file_field_is_a_400(server):
    r = requests.post(server.url + "/upload", files={"other": ("x.csv", b"theme,stock\na,b\n")}, timeout=10)
    assert r.status_code == 400 and "'file'" in r.json()["error"]


def test_two_files_in_one_upload_are_a_400_and_change_nothing(server):
    upload(server, GENE_LIST.encode())
    r = requests.post(server.url + "/upload", timeout=10, files=[("file", ("a.csv", CART_LIST.encode(), "text/csv")),
                                                                 ("file", ("b.csv", GENE_LIST.encode(), "text/csv"))])
    assert r.status_code == 400 and r.json() == {"error": "2 files in the field 'file': send one theme list per upload."}
    assert [m["theme"] for m in tf(server)] == ["유전자"]


def test_an_unwritable_data_dir_answers_an_error_and_keeps_serving(run_server, t5_model_dir, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the data directory should be")
    s = start(run_server, t5_model_dir, blocker / "data")
    before = tf(s)
    r = upload(s, GENE_LIST.encode())
    assert r.status_code == 507
    assert "previous list stays active" in r.json()["error"] and str(tmp_path) not in r.text
    assert tf(s) == before
    health = requests.get(s.url + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["uploads"] == {"writable": False}  # what an operator must fix


def test_concurrent_requests_see_the_old_or_the_new_list_never_a_mix(server):
    """Readers hammer /tf_inference while lists alternate; every answer is one list's exact answer."""
    lists = [GENE_LIST.encode(), CART_LIST.encode()]
    upload(server, lists[0])
    expected = [tf(server)]
    upload(server, lists[1])
    expected.append(tf(server))
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(tf(server))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(10):
        assert upload(server, lists[i % 2]).status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert seen and all(answer in expected for answer in seen)


def test_a_list_one_process_accepts_is_the_one_every_process_serves(run_server, t5_model_dir, tmp_path):
    """Two server processes share DATA_DIR: the one that did not take the upload loads it at its next
    request. Each request opens its own connection, so both processes answer some."""
    server = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                        DATA_DIR=tmp_path / "data", PROCESSES=2)

    def health() -> dict:
        r = requests.get(server.url + "/health", timeout=30)  # a new connection every time
        assert r.status_code == 200
        return r.json()

    before: set[int] = set()
    for _ in range(200):  # the kernel hands connections to either process, not in turn
        before.add(health()["process"])
        if len(before) == 2:
            break
    assert len(before) == 2  # both processes answer
    assert upload(server, GENE_LIST.encode("utf-8")).status_code == 200
    seen = set()
    for _ in range(40):
        answer = health()
        seen.add(answer["process"])
        assert answer["theme_list"] == {"pairs": 2, "themes": 2, "stocks": 2, "source": "uploaded"}
        [match] = tf(server)
        assert (match["theme"], match["stock"]) == ("유전자", "툴젠")
    assert seen == before

    # Uploads to both processes at once: afterwards every process serves the list the file holds.
    lists = {"유전자": GENE_LIST.encode("utf-8"), "카티": CART_LIST.encode("utf-8")}
    for _ in range(6):
        threads = [threading.Thread(target=upload, args=(server, data)) for data in lists.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        on_disk = (tmp_path / "data" / "themes.csv").read_text(encoding="utf-8")
        expected = "유전자" if "유전자," in on_disk else "카티"
        served = set()
        for _ in range(20):
            [match] = tf(server)
            served.add(match["theme"])
        assert served == {expected}
