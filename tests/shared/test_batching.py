"""The batcher with a fake model: who gets which answer, when a batch runs, what is never computed."""
import socket
import threading
import time

import pytest

from shared.batching import BatchingConfig, BatchingGenerator, _client_gone, peer_closed
from shared.errors import Overloaded
from shared.t5 import Generation


class FakeModel:
    """Answers ``<task>/<beams>:<source>``; records every batch; can be held mid-batch."""

    name = "fake"

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.delay, self.fail_on = delay, fail_on
        self.batches: list[tuple[str, int, list[str]]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def generate(self, task, sources, allowed, num_beams):
        self.batches.append((task, num_beams, list(sources)))
        self.started.set()
        self.release.wait(10)
        time.sleep(self.delay)
        if self.fail_on in sources:
            raise ValueError("bad input")
        return [Generation(f"{task}/{num_beams}:{s}", -len(s) / 100) for s in sources]

    def source_lengths(self, task, sources):
        return [len(s) for s in sources]

    def computed(self) -> list[str]:
        return [s for _, _, sources in self.batches for s in sources]


@pytest.fixture
def make():
    made = []

    def build(model=None, **settings):
        batcher = BatchingGenerator(model or FakeModel(), BatchingConfig(**settings))
        made.append(batcher)
        return batcher

    yield build
    for batcher in made:
        batcher.inner.release.set()
        batcher.close()


def run_concurrently(calls):
    """Run each zero-argument call in its own thread; results (or exceptions) in call order."""
    results = [None] * len(calls)

    def run(i):
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_every_caller_gets_exactly_its_own_answers_in_order(make):
    model = FakeModel(delay=0.05)
    batcher = make(model, max_batch_size=8)
    requests = [[f"r{i}s{j}" for j in range(1 + i % 3)] for i in range(24)]  # 1 to 3 inputs each
    results = run_concurrently([lambda r=r: batcher.generate("classify", r, None, 4) for r in requests])
    for sources, answer in zip(requests, results):
        assert [g.text for g in answer] == [f"classify/4:{s}" for s in sources]
    assert sorted(model.computed()) == sorted(s for r in requests for s in r)  # each computed once
    assert max(len(b[2]) for b in model.batches) > 1  # and they did share batches
    assert all(len(b[2]) <= 8 for b in model.batches)


def test_one_request_larger_than_a_batch_is_split_and_reassembled(make):
    model = FakeModel()
    batcher = make(model, max_batch_size=4, max_queue=100)
    sources = [f"sentence {i}" for i in range(10)]
    answer = batcher.generate("generate", sources, None, 2)
    assert [g.text for g in answer] == [f"generate/2:{s}" for s in sources]
    assert [len(b[2]) for b in model.batches] == [4, 4, 2]


def test_only_equal_task_and_beams_share_a_batch(make):
    model = FakeModel(delay=0.05)
    batcher = make(model, max_batch_size=16)
    keys = [(("generate", "relevance")[i % 2], 1 + i % 3 // 2) for i in range(18)]
    results = run_concurrently([lambda i=i: batcher.generate(keys[i][0], [f"x{i}"], None, keys[i][1])
                                for i in range(18)])
    # The fake answers with the task and beams it was called with: a mixed batch would show here.
    assert [r[0].text for r in results] == [f"{task}/{beams}:x{i}" for i, (task, beams) in enumerate(keys)]
    assert max(len(b[2]) for b in model.batches) > 1


def test_two_workers_run_two_batches_at_once(make):
    model = FakeModel()
    model.release.clear()
    batcher = make(model, workers=2, max_batch_size=1)
    waiting = [threading.Thread(target=batcher.generate, args=("classify", [f"w{i}"], None, 4)) for i in range(2)]
    for t in waiting:
        t.start()
    deadline = time.monotonic() + 5
    while len(model.batches) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(model.batches) == 2  # both inside the model before either was let go
    model.release.set()
    for t in waiting:
        t.join(5)


def test_a_lone_request_does_not_wait_for_max_wait(make):
    batcher = make(max_wait_ms=2000)
    for _ in range(3):  # also after a previous batch of one
        started = time.perf_counter()
        batcher.generate("classify", ["alone"], None, 4)
        assert time.perf_counter() - started < 0.5


def test_after_a_busy_batch_the_worker_waits_for_company_at_most_max_wait(make):
    model = FakeModel(delay=0.02)
    batcher = make(model, max_wait_ms=300, max_batch_size=4)
    run_concurrently([lambda i=i: batcher.generate("classify", [f"a{i}"], None, 4) for i in range(4)])
    started = time.perf_counter()
    batcher.generate("classify", ["late"], None, 4)  # the last batch had 4 callers: it waits, but boundedly
    assert time.perf_counter() - started < 0.3 + 0.25


def test_a_full_queue_answers_overloaded_at_once(make):
    model = FakeModel()
    model.release.clear()  # hold the worker inside its first batch
    batcher = make(model, max_queue=3, max_batch_size=2)
    first = threading.Thread(target=batcher.generate, args=("classify", ["running"], None, 4))
    first.start()
    assert model.started.wait(5)
    queued = threading.Thread(target=batcher.generate, args=("classify", ["q1", "q2", "q3"], None, 4))
    queued.start()
    deadline = time.monotonic() + 5
    while batcher.queued < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.perf_counter()
    with pytest.raises(Overloaded) as refused:
        batcher.generate("classify", ["one too many"], None, 4)
    assert time.perf_counter() - started < 0.1
    assert refused.value.retry_after >= 1 and refused.value.status == 503
    model.release.set()
    first.join(5), queued.join(5)
    assert "one too many" not in model.computed()
    assert batcher.stats.rejected == 1


def test_a_request_bigger_than_the_queue_is_admitted_into_an_empty_queue(make):
    batcher = make(max_queue=2, max_batch_size=2)
    assert len(batcher.generate("generate", ["a", "b", "c", "d", "e"], None, 4)) == 5


def test_an_expired_request_is_answered_503_and_never_computed(make):
    model = FakeModel()
    model.release.clear()
    batcher = make(model, request_timeout_s=0.3)
    first = threading.Thread(target=run_concurrently, args=([lambda: batcher.generate("classify", ["held"], None, 4)],))
    first.start()
    assert model.started.wait(5)
    started = time.perf_counter()
    with pytest.raises(Overloaded):
        batcher.generate("classify", ["expires in the queue"], None, 4)
    assert 0.25 < time.perf_counter() - started < 1.0
    model.release.set()
    first.join(5)
    batcher.generate("classify", ["after"], None, 4)  # the worker goes on
    assert "expires in the queue" not in model.computed()
    assert batcher.stats.skipped == 1


def test_a_request_whose_client_has_gone_is_not_computed(make):
    model = FakeModel()
    model.release.clear()
    batcher = make(model)
    first = threading.Thread(target=batcher.generate, args=("classify", ["held"], None, 4))
    first.start()
    assert model.started.wait(5)
    gone = threading.Event()
    outcome = []

    def client():
        _client_gone.set(gone.is_set)
        try:
            batcher.generate("classify", ["client hung up"], None, 4)
        except Overloaded:
            outcome.append("503")

    waiting = threading.Thread(target=client)
    waiting.start()
    time.sleep(0.05)
    gone.set()  # the client disconnects while its request is queued
    model.release.set()
    waiting.join(5), first.join(5)
    assert outcome == ["503"]
    assert "client hung up" not in model.computed()


def test_a_failing_batch_fails_its_callers_and_the_worker_goes_on(make):
    batcher = make(FakeModel(fail_on="poison"))
    with pytest.raises(RuntimeError, match="batched classify generation failed"):
        batcher.generate("classify", ["poison"], None, 4)
    assert batcher.generate("classify", ["fine"], None, 4)[0].text == "classify/4:fine"


def test_the_token_budget_caps_a_batch(make):
    model = FakeModel()
    model.release.clear()
    batcher = make(model, max_batch_tokens=40, max_batch_size=16)
    first = threading.Thread(target=batcher.generate, args=("classify", ["x" * 5], None, 4))
    first.start()
    assert model.started.wait(5)
    rest = threading.Thread(target=batcher.generate, args=("classify", ["y" * 10] * 6, None, 4))
    rest.start()
    time.sleep(0.05)
    model.release.set()
    first.join(5), rest.join(5)
    assert [len(b[2]) for b in model.batches] == [1, 4, 2]  # 4 x 10 tokens fit in 40


@pytest.mark.parametrize("settings", [{"max_batch_size": 0}, {"max_queue": 0}, {"max_wait_ms": -1},
                                      {"request_timeout_s": 0}, {"workers": 0}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        BatchingConfig(**settings)


def test_peer_closed_sees_a_hung_up_client():
    ours, theirs = socket.socketpair()
    with ours:
        assert not peer_closed(ours)
        theirs.sendall(b"pipelined bytes")  # unread data is not a hang-up
        assert not peer_closed(ours)
        theirs.close()
        ours.recv(100)
        assert peer_closed(ours)
