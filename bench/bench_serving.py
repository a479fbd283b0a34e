"""Serving benchmark: theme_classification under load, batched (both backends) against the naive baseline.

    .venv/bin/python bench/bench_serving.py                      # make bench runs this
    .venv/bin/python bench/bench_serving.py --concurrency 1,16 --requests 32 --configs naive,batched

Each configuration is its own server process (``python -m theme_classification`` on 127.0.0.1, a fresh
data directory, thread counts set explicitly), started, measured and stopped in turn, so two engines
never share a process or fight over cores:

* ``naive``        BATCHING=false, BACKEND=transformers, THREADS=8: one generate call per request, as
                   the servers ran before batching (the baseline of every ratio).
* ``batched``      BATCHING=true, BACKEND=transformers.
* ``batched-ct2``  BATCHING=true, BACKEND=ctranslate2 (int8 on CPU); skipped when ``make ct2`` has not
                   written the converted model.

For each, a closed-loop load generator (``c`` client threads, each sending its next request when the
last is answered) posts real articles from the Naver finance corpus -- only articles naming a listed
stock, so the T5 really runs -- to ``/t5_inference`` at every concurrency level, a bounded number of
requests and seconds per level. A 503 counts as rejected, and its client waits Retry-After (at most 1 s).
Reported: throughput of answered requests, p50/p99 latency, peak RSS of the server processes, start-up
time to ready; then ``/tf_inference`` latency with the full shipped theme list, the ratios against the
baseline, the issue's bars, and (``--clustering``) ``bench/bench_clustering.py`` on 100,000 rows.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARTICLES = ROOT.parent / "shared" / "data" / "news_naver_finance_2025" / "articles.csv"
PREFIX = "THEME_CLASSIFICATION"
CORES = os.cpu_count() or 1
CONFIGS = {
    "naive": {"BATCHING": "false", "BACKEND": "transformers", "THREADS": "8", "PROCESSES": "1"},
    "batched": {"BATCHING": "true", "BACKEND": "transformers"},
    "batched-ct2": {"BATCHING": "true", "BACKEND": "ctranslate2"},
}


@dataclass
class Level:
    config: str
    concurrency: int
    ok: int
    rejected: int
    errors: int
    seconds: float
    throughput: float  # answered requests per second
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float


@dataclass
class Run:
    config: str
    ready_s: float
    levels: list[Level] = field(default_factory=list)
    health: dict = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def load_articles(count: int, max_chars: int = 20_000) -> list[dict]:
    """The first ``count`` corpus articles that name at least one listed stock of the shipped list."""
    from shared.candidates import article_text, classify_outputs
    from shared.tfidf import TfidfMatcher
    from shared.themes import ThemeList

    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    csv.field_size_limit(1 << 30)
    chosen = []
    with open(ARTICLES, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = article_text(row["title"], row["body"])
            if len(text) <= max_chars and len(classify_outputs(text, matcher)) > 1:
                chosen.append({"title": row["title"], "body": row["body"]})
                if len(chosen) == count:
                    break
    return chosen


# -- the server -------------------------------------------------------------------------------------

class Server:
    def __init__(self, settings: dict[str, str], log_path: Path, timeout: float = 120.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               f"{PREFIX}_HOST": "127.0.0.1", f"{PREFIX}_PORT": str(port),
               **{f"{PREFIX}_{k}": str(v) for k, v in settings.items()}}
        self.url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "theme_classification"], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{tail}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    self.ready_s = time.perf_counter() - started
                    return
            except requests.RequestException:  # not listening yet, or listening but still loading
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout}s; see {log_path}")

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                todo.extend(int(c) for c in task.read_text().split())
        return found

    def peak_rss_mb(self) -> float:
        """The peak resident sets (VmHWM) of the server's processes (gunicorn master and workers), summed:
        what the server as a whole may take (each worker process loads its own models)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return round(total / 1024, 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- the load generator -------------------------------------------------------------------------------

def drive(url: str, articles: list[dict], concurrency: int, total: int, max_seconds: float,
          path: str = "/t5_inference") -> tuple[list[float], int, int, float]:
    """``concurrency`` closed-loop clients send ``total`` requests (or stop after ``max_seconds``).
    Returns answered latencies (s), rejected (503) and failed counts, and the wall time."""
    latencies: list[float] = []
    counts = {"rejected": 0, "errors": 0}
    lock = threading.Lock()
    next_index = iter(range(total))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                started = time.perf_counter()
                try:
                    r = session.post(url + path, json=articles[i % len(articles)], timeout=120)
                except requests.RequestException:
                    with lock:
                        counts["errors"] += 1
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if r.status_code == 200:
                        latencies.append(elapsed)
                    elif r.status_code == 503:
                        counts["rejected"] += 1
                    else:
                        counts["errors"] += 1
                if r.status_code == 503:
                    time.sleep(min(1.0, float(r.headers.get("Retry-After", 1))))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, counts["rejected"], counts["errors"], time.perf_counter() - started


def run_config(name: str, args, articles: list[dict], workdir: Path) -> Run:
    settings = {"T5_MODEL_DIR": args.model_dir, "DATA_DIR": workdir / name / "data", "TORCH_THREADS": args.threads,
                "CT2_THREADS": args.threads, "SWAGGER": "false", **CONFIGS[name]}
    (workdir / name).mkdir(parents=True, exist_ok=True)
    server = Server(settings, workdir / name / "server.log")
    run = Run(name, round(server.ready_s, 2))
    print(f"\n[{name}] ready in {server.ready_s:.1f}s", flush=True)
    try:
        drive(server.url, articles, min(4, max(args.concurrency)), 8, 60)  # warm-up, not reported
        for c in args.concurrency:
            total = max(args.requests, 2 * c)
            lat, rejected, errors, seconds = drive(server.url, articles, c, total, args.level_seconds)
            level = Level(name, c, len(lat), rejected, errors, round(seconds, 2), round(len(lat) / seconds, 2),
                          round(percentile(lat, 50) * 1000, 1), round(percentile(lat, 99) * 1000, 1),
                          server.peak_rss_mb())
            run.levels.append(level)
            print(f"  c={c:3d}: {level.ok} ok, {rejected} rejected, {errors} errors in {seconds:.1f}s: "
                  f"{level.throughput:.2f} req/s, p50 {level.p50_ms:.0f} ms, p99 {level.p99_ms:.0f} ms, "
                  f"peak RSS {level.peak_rss_mb:.0f} MB", flush=True)
        run.health = requests.get(server.url + "/health", timeout=30).json().get("t5", {})
    finally:
        server.stop()
    return run


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\|(\d+)\|DEBUG\|\[OPENAPI\](.*)$")


def server_times(log: str, endpoint: str) -> list[float]:
    """Seconds from each request's arrival line to its outcome line, paired by thread id, from the
    server's own log (millisecond timestamps)."""
    arrived: dict[str, datetime] = {}
    times = []
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        at, thread, rest = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), match[2], match[3]
        if rest.strip() == endpoint:
            arrived[thread] = at
        elif rest.startswith("[200") and thread in arrived:
            times.append((at - arrived.pop(thread)).total_seconds())
    return times


def tf_latency(args, articles: list[dict], workdir: Path) -> dict:
    """/tf_inference, one client, with the full shipped theme list: server time from the server's log
    (arrival to response line) and client time on loopback."""
    settings = {"T5_MODEL_DIR": args.model_dir, "DATA_DIR": workdir / "tf" / "data", "SWAGGER": "false",
                "TORCH_THREADS": args.threads}
    (workdir / "tf").mkdir(parents=True, exist_ok=True)
    server = Server(settings, workdir / "tf" / "server.log")
    try:
        pairs = requests.get(server.url + "/health", timeout=30).json()["theme_list"]["pairs"]
        drive(server.url, articles, 1, 10, 30, "/tf_inference")
        skip = len(server_times((workdir / "tf" / "server.log").read_text(encoding="utf-8"), "tf_inference"))
        lat, _, errors, _ = drive(server.url, articles, 1, args.tf_requests, 120, "/tf_inference")
    finally:
        server.stop()
    times = server_times((workdir / "tf" / "server.log").read_text(encoding="utf-8"), "tf_inference")[skip:]
    return {"pairs": pairs, "requests": len(lat), "errors": errors,
            "p50_ms": round(percentile(times, 50) * 1000, 2), "p99_ms": round(percentile(times, 99) * 1000, 2),
            "client_p50_ms": round(percentile(lat, 50) * 1000, 2),
            "client_p99_ms": round(percentile(lat, 99) * 1000, 2)}


# -- report ---------------------------------------------------------------------------------------------

def level(runs: dict[str, Run], name: str, c: int) -> Level | None:
    return next((lv for lv in runs[name].levels if lv.concurrency == c), None) if name in runs else None


def report(runs: dict[str, Run], tf: dict | None, args) -> str:
    lines = ["| config | concurrency | answered | 503 | throughput (req/s) | p50 (ms) | p99 (ms) | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs.values():
        for lv in run.levels:
            lines.append(f"| {lv.config} | {lv.concurrency} | {lv.ok} | {lv.rejected} | {lv.throughput:.2f} | "
                         f"{lv.p50_ms:.0f} | {lv.p99_ms:.0f} | {lv.peak_rss_mb:.0f} |")
    lines += ["", "| config | start-up to ready (s) |", "|---|---:|"]
    lines += [f"| {run.config} | {run.ready_s:.1f} |" for run in runs.values()]
    base1, base16 = level(runs, "naive", 1), level(runs, "naive", 16)
    best_naive = max((lv.throughput for lv in runs["naive"].levels), default=0) if "naive" in runs else 0
    lines += ["", "| ratio (against naive) | value | bar |", "|---|---:|---|"]
    for name in runs:
        if name == "naive":
            continue
        ours = level(runs, name, 16)
        if ours and base16 and base1:
            lines.append(f"| {name} c=16 throughput / naive c=16 | {ours.throughput / base16.throughput:.2f}x | >= 4x: "
                         f"{'pass' if ours.throughput >= 4 * base16.throughput else 'FAIL'} |")
            lines.append(f"| {name} c=16 throughput / naive best | {ours.throughput / best_naive:.2f}x | |")
            lines.append(f"| {name} c=16 p99 / naive c=1 p50 | {ours.p99_ms / base1.p50_ms:.2f}x | < 3x: "
                         f"{'pass' if ours.p99_ms < 3 * base1.p50_ms else 'FAIL'} |")
    if tf:
        lines += ["", f"/tf_inference with {tf['pairs']:,} pairs, one client, {tf['requests']} requests: server time "
                      f"p50 {tf['p50_ms']:.1f} ms, p99 {tf['p99_ms']:.1f} ms (bar p50 < 10 ms: "
                      f"{'pass' if tf['p50_ms'] < 10 else 'FAIL'}); at the client p50 {tf['client_p50_ms']:.1f} ms, "
                      f"p99 {tf['client_p99_ms']:.1f} ms"]
    ready = [run.ready_s for run in runs.values()]
    if ready:
        lines.append(f"start-up to ready: at most {max(ready):.1f} s (bar < 30 s: {'pass' if max(ready) < 30 else 'FAIL'})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=str(ROOT / "models" / "theme-t5"))
    parser.add_argument("--configs", default="naive,batched,batched-ct2")
    parser.add_argument("--concurrency", default="1,4,16,64", type=lambda s: [int(c) for c in s.split(",")])
    parser.add_argument("--requests", type=int, default=64, help="requests per level (at least 2 x concurrency)")
    parser.add_argument("--level-seconds", type=float, default=120, help="a level stops after this long")
    parser.add_argument("--articles", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0,
                        help="TORCH_THREADS / CT2_THREADS of every server (default 0: each server's own default)")
    parser.add_argument("--tf-requests", type=int, default=200)
    parser.add_argument("--clustering", action="store_true", help="also run bench/bench_clustering.py")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    from shared.ct2 import ct2_dir_for, is_ct2_dir

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    if "batched-ct2" in names and not is_ct2_dir(ct2_dir_for(args.model_dir)):
        print(f"skipping batched-ct2: no converted model at {ct2_dir_for(args.model_dir)} (run `make ct2`)")
        names.remove("batched-ct2")
    articles = load_articles(args.articles)
    print(f"{len(articles)} articles naming listed stocks; model {args.model_dir}; {args.threads} threads; "
          f"concurrency {args.concurrency}")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        runs = {name: run_config(name, args, articles, Path(tmp)) for name in names}
        tf = tf_latency(args, articles, Path(tmp)) if args.tf_requests else None
    table = report(runs, tf, args)
    print("\n" + table)
    if args.clustering:
        print("\nclustering (bench/bench_clustering.py --rows 100000):", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_clustering.py"), "--rows", "100000"], check=False)
    if args.out:
        args.out.write_text(json.dumps({"runs": {k: asdict(v) for k, v in runs.items()}, "tf": tf,
                                        "table": table}, ensure_ascii=False, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
