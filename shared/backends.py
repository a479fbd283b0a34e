"""Which engine runs a server's T5 models, and whether their calls are batched: one loader for every app.

Each app merges ``GENERATOR_DEFAULTS`` into its ``DEFAULTS`` and loads every T5 model with
``load_generator(path, config)``; the object it gets back has ``T5Generator``'s interface
(``generate``, ``trie``, ``task``, ``health``), whatever the backend.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from shared.batching import BatchingConfig, BatchingGenerator
from shared.config import SERVING_BOUNDS
from shared.t5 import T5Generator

logger = logging.getLogger(__name__)


class Backend(str, Enum):
    TRANSFORMERS = "transformers"
    CTRANSLATE2 = "ctranslate2"


GENERATOR_DEFAULTS: dict[str, Any] = {
    "BACKEND": Backend.TRANSFORMERS.value,  # transformers | ctranslate2 (needs `make ct2`)
    "CT2_COMPUTE_TYPE": "default",  # default: int8 on CPU, float16 on CUDA
    "CT2_THREADS": 0,  # CTranslate2 intra-op threads per batch worker; 0: see intra_threads
    "TORCH_THREADS": 0,  # torch intra-op threads per batch worker; 0: see intra_threads
    "PROCESSES": 0,  # server processes, each with its own models and batcher; 0: 2 on CPU, 1 with a GPU
    "BATCHING": True,
    "BATCH_WORKERS": 1,  # batches in flight at once per process
    "MAX_BATCH_SIZE": 16,
    "MAX_BATCH_TOKENS": 0,
    "MAX_WAIT_MS": 10.0,
    "MAX_QUEUE": 48,  # inputs waiting (a sentence, an article); beyond it 503 at once
    "REQUEST_TIMEOUT_S": 60.0,
}
# What a model server's settings may be (``shared.config.load_config``'s bounds).
MODEL_SERVER_BOUNDS = {
    **SERVING_BOUNDS, "THREADS": (0, None), "NUM_BEAMS": (1, None), "MAX_TEXT_BYTES": (0, None),
    "MAX_TEXT_CHARS": (1, None), "CT2_THREADS": (0, None), "TORCH_THREADS": (0, None),
    "PROCESSES": (0, None), "BATCH_WORKERS": (1, None), "MAX_BATCH_SIZE": (1, None), "MAX_BATCH_TOKENS": (0, None),
    "MAX_WAIT_MS": (0, None), "MAX_QUEUE": (1, None), "REQUEST_TIMEOUT_S": (0.1, None),
}


def serving_threads(config: Mapping[str, Any]) -> int:
    """gunicorn threads (concurrent requests): ``THREADS``, or when it is 0, enough for every worker's full
    batch and a full queue plus headroom (so a full queue answers 503 instead of requests waiting for a thread), or 8
    without batching (each request then runs the model itself)."""
    if int(config["THREADS"]) > 0:
        return int(config["THREADS"])
    if not config["BATCHING"]:
        return 8
    running = int(config["BATCH_WORKERS"]) * int(config["MAX_BATCH_SIZE"])
    return min(128, running + int(config["MAX_QUEUE"]) + 16)


def server_processes(config: Mapping[str, Any]) -> int:
    """``PROCESSES``, or when it is 0: one with a GPU (each process would hold its own copy of the models,
    and one batch stream keeps a GPU busy), else two, or one on a one-core machine. A model server's work
    is mostly Python, which one process runs on one core at a time (docs/performance.md)."""
    if int(config["PROCESSES"]) > 0:
        return int(config["PROCESSES"])
    device = str(config["DEVICE"]).lower()
    # Not torch.cuda.is_available(): this runs in gunicorn's master before it forks the workers, and
    # initialising CUDA there would break CUDA in them. The NVIDIA driver's device node says enough.
    if device == "cuda" or (device == "auto" and Path("/dev/nvidiactl").exists()):
        return 1
    return min(2, os.cpu_count() or 1)


def intra_threads(config: Mapping[str, Any], key: str) -> int:
    """Threads per model call: the setting, or the cores shared among the processes' batch workers
    (without batching: shared among the processes; one process, the engine's own default)."""
    if int(config[key]) > 0:
        return int(config[key])
    processes = server_processes(config)
    if not config["BATCHING"]:
        return 0 if processes == 1 else max(1, (os.cpu_count() or 1) // processes)
    return max(1, (os.cpu_count() or 1) // (processes * max(1, int(config["BATCH_WORKERS"]))))


def _torch_threads(config: Mapping[str, Any]) -> Callable[[], None]:
    threads = intra_threads(config, "TORCH_THREADS")

    def setup() -> None:  # per thread as well as per process: torch's OpenMP settings are per thread
        if threads > 0:
            torch.set_num_threads(threads)

    return setup


def _load_transformers(path: Path, config: Mapping[str, Any]) -> T5Generator:
    _torch_threads(config)()
    return T5Generator.load(path, config["DEVICE"])


def _load_ctranslate2(path: Path, config: Mapping[str, Any]) -> T5Generator:
    from shared.ct2 import CT2Generator, ct2_dir_for  # ctranslate2 is optional

    workers = int(config["BATCH_WORKERS"]) if config["BATCHING"] else 1
    return CT2Generator.load(ct2_dir_for(path), config["DEVICE"], intra_threads(config, "CT2_THREADS"),
                             config["CT2_COMPUTE_TYPE"], workers)


LOADERS: dict[Backend, Callable[[Path, Mapping[str, Any]], T5Generator]] = {
    Backend.TRANSFORMERS: _load_transformers,
    Backend.CTRANSLATE2: _load_ctranslate2,
}


def load_generator(path: str | Path, config: Mapping[str, Any]) -> T5Generator | BatchingGenerator:
    """The T5 at ``path`` on ``config["BACKEND"]``, behind a batcher unless ``BATCHING`` is off.

    For ``ctranslate2``, ``path`` may be the transformers directory: its converted copy ``<path>-ct2``
    is loaded (``make ct2`` writes it).
    """
    try:
        backend = Backend(str(config["BACKEND"]).lower())
    except ValueError:
        raise ValueError(f"BACKEND={config['BACKEND']!r}: expected one of "
                         f"{', '.join(b.value for b in Backend)}") from None
    generator = LOADERS[backend](Path(path), config)
    if not config["BATCHING"]:
        return generator
    batching = BatchingConfig.from_config(config)
    logger.info("batching %s: up to %d inputs per call, %d workers, %g ms wait, queue %d, timeout %gs", path,
                batching.max_batch_size, batching.workers, batching.max_wait_ms, batching.max_queue,
                batching.request_timeout_s)
    return BatchingGenerator(generator, batching, worker_setup=_torch_threads(config))
