"""Dynamic batching of T5 calls: concurrent requests share one ``generate`` call, each gets its own answer.

``BatchingGenerator`` wraps a generator (``T5Generator`` or ``CT2Generator``) behind the same
``generate(task, sources, allowed, num_beams)`` signature, so services do not change. Callers put their
inputs on one bounded queue and wait. A worker thread takes the oldest input, adds every queued input
with the same ``(task, num_beams)`` up to ``max_batch_size`` inputs (and ``max_batch_tokens`` padded
tokens), runs them as one batch and hands each caller its own results. ``workers`` threads do this at
once, so that on a CPU the cores stay busy while requests are prepared and answered between batches.
One request's inputs (all the sentences of an article) are queued together and may be split across
batches.

When to run a batch:

* Inputs that queued while the worker was busy run as soon as it is free: under load, batches form
  without any waiting.
* After an idle spell the worker waits at most ``max_wait_ms`` (from the first input's arrival) for as
  many callers as the previous batch served, and only if that batch served more than one: a lone
  client's request runs at once.

Backpressure and abandoned work:

* A request that would take the queue past ``max_queue`` inputs is refused at once with
  ``Overloaded`` (503 + Retry-After). A request larger than ``max_queue`` is admitted only into an empty
  queue, so it is slow, never impossible.
* A caller waits at most ``request_timeout_s``; then it answers ``Overloaded`` and its queued inputs are
  dropped. Inputs of a request whose client has closed its connection (see
  :func:`install_disconnect_check`) are dropped too: neither is ever computed.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from flask import Flask, request

from shared.errors import Overloaded
from shared.t5 import Generation, OutputTrie

logger = logging.getLogger(__name__)

IDLE_RESET_S = 1.0  # after this long without a batch, a new request is assumed to be alone

_client_gone: ContextVar[Callable[[], bool] | None] = ContextVar("client_gone", default=None)


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 16  # inputs per model call
    max_batch_tokens: int = 0  # padded source tokens per model call (inputs x longest); 0: no budget
    max_wait_ms: float = 10.0  # longest an input waits for company after an idle spell
    max_queue: int = 64  # queued inputs (not counting the running batch) before new requests get 503
    request_timeout_s: float = 60.0  # a caller's whole wait, queue and compute
    workers: int = 1  # batches in flight at once (each worker thread runs one)

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.upper()} must be at least 1, got {getattr(self, name)}")
        for name in ("max_batch_tokens", "max_wait_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.upper()} must not be negative, got {getattr(self, name)}")
        if self.request_timeout_s <= 0:
            raise ValueError(f"REQUEST_TIMEOUT_S must be positive, got {self.request_timeout_s}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "BatchingConfig":
        """From a server's config keys (``MAX_BATCH_SIZE`` ...)."""
        return cls(int(config["MAX_BATCH_SIZE"]), int(config["MAX_BATCH_TOKENS"]), float(config["MAX_WAIT_MS"]),
                   int(config["MAX_QUEUE"]), float(config["REQUEST_TIMEOUT_S"]), int(config["BATCH_WORKERS"]))


class _Request:
    """One caller's inputs: results fill in as batches finish; ``done`` is set when all have."""

    def __init__(self, size: int, deadline: float, gone: Callable[[], bool] | None) -> None:
        self.results: list[Generation | None] = [None] * size
        self.pending = size
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.cancelled = False
        self.deadline, self.gone = deadline, gone

    def abandoned(self, now: float) -> bool:
        """Nobody will read the answer: failed, timed out, given up, or the client hung up."""
        if self.error is not None or self.cancelled or now > self.deadline:
            return True
        try:
            return bool(self.gone and self.gone())
        except Exception:  # a broken check must not take the worker down
            logger.exception("disconnect check failed")
            return False

    def deliver(self, index: int, generation: Generation) -> None:
        self.results[index] = generation
        self.pending -= 1
        if self.pending == 0:
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.done.is_set():
            self.error = error
            self.done.set()


@dataclass(eq=False)
class _Item:
    request: _Request
    index: int
    key: tuple[str, int]  # (task, num_beams): only equal keys share a batch
    source: str
    trie: OutputTrie | None
    length: int
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    batches: int = 0
    inputs: int = 0
    skipped: int = 0  # inputs not computed: timed out, cancelled or client gone
    rejected: int = 0  # requests refused because the queue was full
    largest: int = 0

    def as_dict(self) -> dict:
        mean = round(self.inputs / self.batches, 2) if self.batches else 0
        return {"batches": self.batches, "inputs": self.inputs, "mean_batch": mean, "largest_batch": self.largest,
                "skipped": self.skipped, "rejected": self.rejected}


class BatchingGenerator:
    """A generator whose ``generate`` calls from many threads are run together in batches."""

    def __init__(self, inner, config: BatchingConfig = BatchingConfig(),
                 worker_setup: Callable[[], None] | None = None) -> None:
        self.inner, self.config = inner, config
        self.stats = BatchStats()
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._last_callers, self._last_end, self._last_seconds = 1, 0.0, 0.0
        self._worker_setup = worker_setup
        name = getattr(inner, "name", "t5")
        self._workers = [threading.Thread(target=self._run, name=f"batcher-{name}-{i}", daemon=True)
                         for i in range(config.workers)]
        for worker in self._workers:
            worker.start()

    # -- the generator interface ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def meta(self) -> dict:
        return self.inner.meta

    @property
    def path(self) -> Path:
        return self.inner.path

    def task(self, name: str) -> dict:
        return self.inner.task(name)

    def trie(self, outputs: list[str], chain: bool) -> OutputTrie:
        return self.inner.trie(outputs, chain)

    @property
    def queued(self) -> int:
        """Inputs waiting (the running batch not counted)."""
        with self._cond:
            return len(self._queue)

    def health(self) -> dict:
        return {**self.inner.health(), "batching": {**self.stats.as_dict(), "queued": self.queued,
                                                    "max_queue": self.config.max_queue,
                                                    "max_batch_size": self.config.max_batch_size}}

    def generate(self, task: str, sources: list[str], allowed: list[OutputTrie | None] | None = None,
                 num_beams: int = 4) -> list[Generation]:
        """Queue ``sources`` and wait for their results (in order); ``Overloaded`` when the queue is full
        or the answer is not ready within ``request_timeout_s``."""
        if not sources:
            return []
        allowed = list(allowed) if allowed is not None else [None] * len(sources)
        if len(allowed) != len(sources):
            raise ValueError(f"{len(sources)} sources but {len(allowed)} entries in allowed")
        lengths = (self.inner.source_lengths(task, sources) if self.config.max_batch_tokens
                   else [0] * len(sources))
        now = time.monotonic()
        req = _Request(len(sources), now + self.config.request_timeout_s, _client_gone.get())
        key = (task, num_beams)
        self._enqueue([_Item(req, i, key, s, t, n, now)
                       for i, (s, t, n) in enumerate(zip(sources, allowed, lengths))])
        if not req.done.wait(max(0.0, req.deadline - time.monotonic())):
            req.cancelled = True  # the worker drops whatever is still queued
            logger.warning("%s: no answer within %.0fs (REQUEST_TIMEOUT_S); answering 503",
                           task, self.config.request_timeout_s)
            raise Overloaded(self._retry_after())
        if req.error is not None:
            if isinstance(req.error, Overloaded):
                raise Overloaded(req.error.retry_after)
            raise RuntimeError(f"batched {task} generation failed") from req.error
        return req.results  # type: ignore[return-value]

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after the queued work is done (tests, shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout)

    # -- queue --------------------------------------------------------------------------------------

    def _enqueue(self, items: list[_Item]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the batching worker is stopped")
            if self._queue and len(self._queue) + len(items) > self.config.max_queue:
                self.stats.rejected += 1
                retry = self._retry_after()
                logger.warning("queue full (%d inputs queued, MAX_QUEUE=%d): answering 503",
                               len(self._queue), self.config.max_queue)
                raise Overloaded(retry)
            self._queue.extend(items)
            self._cond.notify()

    def _retry_after(self) -> int:
        """Seconds until the queue has likely drained, from the last batch's duration."""
        batches = math.ceil(len(self._queue) / self.config.max_batch_size) or 1
        return max(1, math.ceil(batches * self._last_seconds))

    def _split_abandoned(self, items: Iterable[_Item], now: float) -> tuple[list[_Item], list[_Item]]:
        """(live, abandoned); each request is checked once."""
        verdicts: dict[int, bool] = {}
        live, dead = [], []
        for item in items:
            key = id(item.request)
            if key not in verdicts:
                verdicts[key] = item.request.abandoned(now)
            (dead if verdicts[key] else live).append(item)
        return live, dead

    def _skip(self, items: list[_Item]) -> None:
        self.stats.skipped += len(items)
        for item in items:
            item.request.fail(Overloaded(self._retry_after()))

    def _drop_abandoned(self, now: float) -> None:
        live, dead = self._split_abandoned(self._queue, now)
        if dead:
            self._queue = deque(live)
            self._skip(dead)

    def _callers(self, key: tuple[str, int]) -> int:
        return len({id(item.request) for item in self._queue if item.key == key})

    def _take(self, key: tuple[str, int]) -> list[_Item]:
        """The oldest inputs with ``key`` that fit the size and token limits (always at least one)."""
        batch, rest, longest = [], deque(), 0
        budget = self.config.max_batch_tokens
        for item in self._queue:
            fits = item.key == key and len(batch) < self.config.max_batch_size
            if fits and batch and budget:
                fits = (len(batch) + 1) * max(longest, item.length) <= budget
            if fits:
                batch.append(item)
                longest = max(longest, item.length)
            else:
                rest.append(item)
        self._queue = rest
        return batch

    def _full(self, key: tuple[str, int]) -> bool:
        same = [item for item in self._queue if item.key == key]
        if len(same) >= self.config.max_batch_size:
            return True
        budget = self.config.max_batch_tokens
        return bool(budget and same) and len(same) * max(item.length for item in same) >= budget

    def _next_batch(self) -> list[_Item] | None:
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return None  # closed and drained
                self._drop_abandoned(time.monotonic())
                if not self._queue:
                    continue
                first = self._queue[0]
                expected = self._last_callers if time.monotonic() - self._last_end < IDLE_RESET_S else 1
                deadline = first.arrived + self.config.max_wait_ms / 1000
                while (not self._closed and not self._full(first.key) and self._callers(first.key) < expected
                       and (left := deadline - time.monotonic()) > 0):
                    self._cond.wait(left)
                batch = self._take(first.key)
                if batch:  # another worker may have taken them meanwhile
                    return batch

    # -- worker -------------------------------------------------------------------------------------

    def _run(self) -> None:
        if self._worker_setup is not None:
            self._worker_setup()
        while (batch := self._next_batch()) is not None:
            self._compute(batch)

    def _compute(self, batch: list[_Item]) -> None:
        live, dead = self._split_abandoned(batch, time.monotonic())
        self._skip(dead)
        if not live:
            return
        task, num_beams = live[0].key
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                out = self.inner.generate(task, [i.source for i in live], [i.trie for i in live], num_beams)
        except Exception as exc:  # one bad batch fails its callers, never the worker
            logger.exception("batched %s generation of %d inputs failed", task, len(live))
            for item in live:
                item.request.fail(exc)
        else:
            for item, generation in zip(live, out):
                item.request.deliver(item.index, generation)
        seconds = time.perf_counter() - started
        with self._cond:
            self.stats.batches += 1
            self.stats.inputs += len(live)
            self.stats.largest = max(self.stats.largest, len(live))
            self._last_callers = len({id(item.request) for item in live})
            self._last_end, self._last_seconds = time.monotonic(), seconds
        logger.debug("batch: %s x%d (%d callers, beams %d) in %.0f ms",
                     task, len(live), self._last_callers, num_beams, seconds * 1000)


# -- disconnected clients ------------------------------------------------------------------------------

def peer_closed(sock: socket.socket) -> bool:
    """Whether the other end of ``sock`` has closed it (a non-blocking peek; no data is consumed)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # open, nothing to read
    except OSError:
        return True  # reset, or already closed on our side


def install_disconnect_check(app: Flask) -> None:
    """Let the batcher see, for each request, whether its client is still connected.

    gunicorn passes the client socket as ``environ["gunicorn.socket"]``; other servers (the test
    client) pass none, and then only the request timeout applies.
    """

    @app.before_request
    def _watch_client() -> None:
        sock = request.environ.get("gunicorn.socket")
        _client_gone.set((lambda: peer_closed(sock)) if isinstance(sock, socket.socket) else None)
