"""Batching over real HTTP: concurrent answers equal sequential ones; a full queue answers 503 at once."""
import csv
import threading
import time

import pytest
import requests

from shared.candidates import article_text, classify_outputs
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.conftest import ROOT, SHARED_DATA

CORPUS = SHARED_DATA / "news_naver_finance_2025" / "articles.csv"


@pytest.fixture(scope="module")
def articles():
    """Eight corpus articles that name listed stocks (so the T5 runs), read at test time."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    csv.field_size_limit(1 << 30)
    chosen = []
    with open(CORPUS, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = article_text(row["title"], row["body"])
            if len(text) < 3000 and len(classify_outputs(text, matcher)) > 1:
                chosen.append({"title": row["title"], "body": row["body"]})
            if len(chosen) == 8:
                return chosen
    pytest.fail(f"fewer than 8 usable articles in {CORPUS}")


def concurrently(calls):
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i):
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def post(server, payload):
    return requests.post(server.url + "/t5_inference", json=payload, timeout=120)


def test_concurrent_answers_equal_the_sequential_ones(run_server, t5_model_dir, tmp_path_factory, articles):
    server = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                        DATA_DIR=tmp_path_factory.mktemp("batching_http"), BATCHING="true", MAX_WAIT_MS=50)
    sequential = [post(server, a).json() for a in articles]
    together = [r.json() for r in concurrently([lambda a=a: post(server, a) for a in articles])]
    for alone, batched in zip(sequential, together):
        # Padding in a batch changes float sums slightly: scores may move in the 3rd decimal, choices not.
        assert [(p["theme"], p["stock"]) for p in batched] == [(p["theme"], p["stock"]) for p in alone]
        assert [p["score"] for p in batched] == pytest.approx([p["score"] for p in alone], abs=0.002)
    stats = requests.get(server.url + "/health", timeout=30).json()["t5"]["batching"]
    assert stats["largest_batch"] > 1 and stats["rejected"] == 0 and stats["skipped"] == 0


@pytest.fixture(scope="module")
def one_at_a_time(run_server, t5_model_dir, tmp_path_factory):
    """A server that computes one article at a time and lets three wait."""
    return run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                      DATA_DIR=tmp_path_factory.mktemp("batching_503"), BATCHING="true", MAX_BATCH_SIZE=1,
                      MAX_QUEUE=3, THREADS=16)


def batching_stats(server):
    return requests.get(server.url + "/health", timeout=30).json()["t5"]["batching"]


def test_a_full_queue_answers_503_with_retry_after_at_once(one_at_a_time, articles):
    server = one_at_a_time

    def timed(article):
        started = time.perf_counter()
        r = post(server, article)
        return r, time.perf_counter() - started

    results = concurrently([lambda a=a: timed(a) for a in articles])
    codes = sorted(r.status_code for r, _ in results)
    assert 200 in codes and 503 in codes and set(codes) == {200, 503}, codes
    slowest_ok = max(s for r, s in results if r.status_code == 200)
    for r, seconds in results:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json() == {"message": "The server is busy; retry shortly."}
            assert seconds < slowest_ok  # refused at once, not after waiting in line
    log = server.log()
    assert "queue full" in log
    assert "Traceback" not in log and " - ERROR - " not in log and "|ERROR|" not in log  # a WARNING is enough


def test_a_client_that_hung_up_is_not_computed(one_at_a_time, articles):
    server = one_at_a_time
    before = batching_stats(server)

    def impatient():
        time.sleep(0.02)  # behind the others in the queue
        try:
            return requests.post(server.url + "/t5_inference", json=articles[3], timeout=0.05)
        except requests.Timeout:
            return "hung up"

    results = concurrently([lambda: post(server, articles[0]), lambda: post(server, articles[1]),
                            lambda: post(server, articles[2]), impatient])
    assert results[3] == "hung up" and all(r.status_code == 200 for r in results[:3])
    after = batching_stats(server)
    assert after["skipped"] == before["skipped"] + 1
    assert after["inputs"] == before["inputs"] + 3  # the fourth article was never computed
