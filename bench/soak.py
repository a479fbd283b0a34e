"""Soak: minutes of closed-loop load at a fixed concurrency against one server, per-minute figures.

    .venv/bin/python bench/soak.py --server theme_classification          # 10 min at concurrency 64
    .venv/bin/python bench/soak.py --server all --json var/soak.json      # the three, one after another
    .venv/bin/python bench/soak.py --server file_server --url http://127.0.0.1:8003 --pid 1234 --minutes 2

Without ``--url`` the server is started here (``python -m <server>`` on 127.0.0.1, a fresh data
directory, default settings), driven, then stopped with SIGTERM (its drain is timed). Only loopback
targets are accepted. The run is bounded in time (``--minutes``/``--seconds``) and in count
(``--max-requests``); every request has a timeout.

Workloads (each client thread sends its next request when the last is answered; a 503 is the
documented load shedding and the client waits its Retry-After, at most 1 s):

* theme_classification: real corpus articles that name listed stocks (so the T5 runs) to
  ``/t5_inference``, ``/tf_inference`` and ``/theme_inference``; one request in 500 re-uploads the
  shipped theme list (the atomic switch under load).
* theme_generation: the same articles, cut to their first 1,500 characters, to ``/generation``,
  ``/inference`` and ``/relevance``; one in 100 is a ``/clustering`` of a 200-row CSV.
* file_server: each client owns five names and cycles PUT (1 kB-1 MB), GET (checked against what it
  put), list and DELETE, so every answer is determined and any other status is an error.

Reported per interval (``--interval-s``, default 60): requests, answered, shed (503), errors (any
other status, a wrong download, a timeout or a refused connection), p50/p95/p99 latency of the answered
ones, and the server's RSS (master and worker); then the verdicts: no errors, latency flat after
warm-up (each interval's p50 and p95 against the median interval's), RSS growth after warm-up < 10%.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARTICLES = ROOT.parent / "shared" / "data" / "news_naver_finance_2025" / "articles.csv"
THEMES = ROOT / "data" / "themes.csv"
PREFIXES = {"theme_classification": "THEME_CLASSIFICATION", "theme_generation": "THEME_GENERATION",
            "file_server": "FILE_SERVER"}
LOOPBACK = ("127.", "localhost", "::1")
TIMEOUT = 150  # seconds per request; the servers answer 503 after REQUEST_TIMEOUT_S (60 s) of waiting


# -- what is sent -------------------------------------------------------------------------------


def load_articles(count: int = 300) -> list[dict]:
    """Corpus articles that name at least one listed stock; sentences built from the theme list when
    the corpus is not beside the checkout."""
    from shared.candidates import article_text, classify_outputs
    from shared.tfidf import TfidfMatcher
    from shared.themes import ThemeList

    themes = ThemeList.load(THEMES)
    if not ARTICLES.is_file():
        rng = random.Random(7)
        pairs = list(themes.entries)
        return [{"title": f"{e.stock}, {e.theme} 사업 확대",
                 "body": " ".join(f"{p.stock}는 {p.theme} 관련 신규 계약을 발표했다." for p in rng.sample(pairs, 6))}
                for e in rng.sample(pairs, count)]
    matcher = TfidfMatcher(themes)
    csv.field_size_limit(1 << 30)
    chosen = []
    with open(ARTICLES, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = article_text(row["title"], row["body"])
            if len(text) <= 20_000 and len(classify_outputs(text, matcher)) > 1:
                chosen.append({"title": row["title"], "body": row["body"]})
                if len(chosen) == count:
                    break
    return chosen


@dataclass
class Call:
    method: str
    path: str
    kwargs: dict
    expect: tuple[int, ...] = (200,)
    check: object = None  # called with the response; False means a wrong answer


class Workload:
    """The next request of one client thread."""

    def __init__(self, server: str, articles: list[dict], endpoints: list[str] | None) -> None:
        self.server, self.articles = server, articles
        self.endpoints = endpoints
        self.run = os.urandom(4).hex()  # file names of this run only, so a reused server has none of them
        self.theme_list = THEMES.read_bytes()
        rows = [("objid", "result")] + [
            (f"id{i}", json.dumps([{"theme": e.theme, "stock": e.stock, "score": -0.1}], ensure_ascii=False))
            for i, e in enumerate(_theme_entries()[:200])]
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        self.clustering_csv = out.getvalue().encode()

    def client(self, index: int):
        rng = random.Random(index)
        if self.server == "file_server":
            yield from self._files(index, rng)
        while True:
            yield self._text(rng)

    def _text(self, rng: random.Random) -> Call:
        article = rng.choice(self.articles)
        if self.server == "theme_classification":
            if not self.endpoints and rng.random() < 1 / 500:
                return Call("POST", "/upload", {"files": {"file": ("themes.csv", self.theme_list)}})
            path = rng.choice(self.endpoints or ["t5_inference", "t5_inference", "tf_inference", "theme_inference"])
        else:
            if not self.endpoints and rng.random() < 1 / 100:
                return Call("POST", "/clustering", {"files": {"file": ("a.csv", self.clustering_csv)}})
            path = rng.choice(self.endpoints or ["generation", "inference", "relevance"])
            article = {"title": article["title"], "body": article["body"][:1500]}
        return Call("POST", "/" + path, {"json": article}, (200, 503))

    def _files(self, index: int, rng: random.Random):
        folder = f"soak/{self.run}/{index}/"
        names = [f"{folder}{k}.csv" for k in range(5)]
        held: dict[str, str] = {}
        while True:
            name = rng.choice(names)
            if name not in held:
                data = rng.randbytes(rng.choice([1_000, 10_000, 100_000, 1_000_000]))
                held[name] = hashlib.sha256(data).hexdigest()
                yield Call("PUT", f"/files/{name}", {"data": data, "headers": {"Content-Type": "text/csv"}}, (200, 201))
            else:
                action = rng.choice(["get", "get", "list", "delete"])
                if action == "get":
                    digest = held[name]
                    yield Call("GET", f"/files/{name}", {}, (200,),
                               lambda r, d=digest: hashlib.sha256(r.content).hexdigest() == d)
                elif action == "list":
                    yield Call("GET", "/files", {"params": {"prefix": folder}}, (200,),
                               lambda r, n=len(held): r.json()["count"] == n)
                else:
                    del held[name]
                    yield Call("DELETE", f"/files/{name}", {}, (200,))


def _theme_entries():
    from shared.themes import ThemeList
    return list(ThemeList.load(THEMES).entries)


# -- the server ---------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's master and worker)."""
    total = 0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for p in [pid, *(int(c) for c in (children.read_text().split() if children.exists() else []))]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            pass
    return total


class Started:
    """A server started for the soak, on a free loopback port with a data directory of its own."""

    def __init__(self, server: str, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        prefix = PREFIXES[server]
        data = workdir / server
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port),
               f"{prefix}_{'ROOT' if server == 'file_server' else 'DATA_DIR'}": str(data)}
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{server}.log"
        started = time.monotonic()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", server], cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        while time.monotonic() - started < 180:
            if self.process.poll() is not None:
                raise RuntimeError(f"{server} exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/health", timeout=10).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            self.stop()
            raise RuntimeError(f"{server} not ready in 180 s")
        self.ready_s = time.monotonic() - started

    def stop(self) -> tuple[int | None, float]:
        """SIGTERM, as pm2 sends it: the exit code and how long the drain took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        return code, time.monotonic() - started


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Interval:
    start_s: int
    requests: int
    answered: int
    shed: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rss_mb: float
    p50_ms_by_path: dict[str, float] = field(default_factory=dict)
    load1: float = float("nan")  # the machine's 1-minute load average at the interval's end (2 cores here)


@dataclass
class Report:
    server: str
    url: str
    concurrency: int
    seconds: float
    requests: int
    statuses: dict[str, int]
    intervals: list[Interval]
    error_samples: list[str] = field(default_factory=list)
    verdict: dict = field(default_factory=dict)
    server_ready_s: float | None = None
    drain: dict | None = None


def drive(url: str, workload: Workload, concurrency: int, seconds: float, max_requests: int,
          pid: int | None, sample_s: float = 5.0) -> tuple[list[tuple], list[tuple], list[str]]:
    """Run the clients; every finished request as (end time, latency s, kind, status, path), RSS samples."""
    done: list[tuple] = []
    rss: list[tuple] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    start = time.monotonic()
    budget = iter(range(max_requests))

    def client(index: int) -> None:
        session = requests.Session()
        calls = workload.client(index)
        while not stop.is_set():
            with lock:
                if next(budget, None) is None:
                    stop.set()
                    return
            call = next(calls)
            began = time.monotonic()
            try:
                r = session.request(call.method, url + call.path, timeout=TIMEOUT, **call.kwargs)
                status = r.status_code
                ok = status in call.expect and (status != 200 or call.check is None or call.check(r))
                kind = "shed" if status == 503 and ok else "answered" if ok else "error"
            except requests.RequestException as e:
                status, kind, r = type(e).__name__, "error", None
            ended = time.monotonic()
            with lock:
                done.append((ended - start, ended - began, kind, status, f"{call.method} {call.path.split('/')[1]}"))
                if kind == "error" and len(errors) < 20:
                    errors.append(f"{call.method} {call.path} -> {status} {r.text[:200] if r is not None else ''}")
            if kind == "shed":
                stop.wait(min(1.0, float(r.headers.get("Retry-After", 1))))

    def sampler() -> None:
        while not stop.wait(sample_s):
            rss.append((time.monotonic() - start, rss_bytes(pid) if pid else 0, os.getloadavg()[0]))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    watcher = threading.Thread(target=sampler, daemon=True)
    for t in [*threads, watcher]:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(TIMEOUT + 10)
    rss.append((time.monotonic() - start, rss_bytes(pid) if pid else 0, os.getloadavg()[0]))
    return done, rss, errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(server: str, url: str, args, done: list[tuple], rss: list[tuple], errors: list[str]) -> Report:
    seconds = args.seconds
    intervals = []
    for start in range(0, int(seconds + 0.999), args.interval_s):
        rows = [d for d in done if start <= d[0] < start + args.interval_s]
        answered = [d[1] * 1000 for d in rows if d[2] == "answered"]
        samples = [(m, load) for t, m, load in rss if t < start + args.interval_s + 1]
        by_path = {path: round(percentile([d[1] * 1000 for d in rows if d[2] == "answered" and d[4] == path], 0.5), 1)
                   for path in sorted({d[4] for d in rows})}
        intervals.append(Interval(start, len(rows), len(answered), sum(d[2] == "shed" for d in rows),
                                  sum(d[2] == "error" for d in rows), round(percentile(answered, 0.5), 1),
                                  round(percentile(answered, 0.95), 1), round(percentile(answered, 0.99), 1),
                                  round(samples[-1][0] / 2**20, 1) if samples else float("nan"), by_path,
                                  samples[-1][1] if samples else float("nan")))
    statuses: dict[str, int] = {}
    for d in done:
        statuses[str(d[3])] = statuses.get(str(d[3]), 0) + 1
    report = Report(server, url, args.concurrency, seconds, len(done), statuses, intervals, errors)
    report.verdict = verdict(report, args.warmup_s)
    return report


def verdict(report: Report, warmup_s: float) -> dict:
    after = [i for i in report.intervals if i.start_s >= warmup_s and i.answered]
    errors = sum(i.errors for i in report.intervals)
    result = {"errors": errors, "no_errors": errors == 0}
    if after:
        for q in ("p50_ms", "p95_ms"):
            result[f"{q}_spread"] = _spread([getattr(i, q) for i in after])
        paths = {path for i in after for path in i.p50_ms_by_path}
        result["p50_ms_spread_by_path"] = {
            path: _spread([i.p50_ms_by_path[path] for i in after if path in i.p50_ms_by_path]) for path in sorted(paths)}
        prior = [i for i in report.intervals if i.start_s < warmup_s]
        base = prior[-1].rss_mb if prior else after[0].rss_mb  # at the end of the warm-up
        last = report.intervals[-1].rss_mb
        result["rss_after_warmup_mb"], result["rss_end_mb"] = base, last
        result["rss_growth"] = round((last - base) / base, 4) if base == base and base else None
        result["rss_under_10pct"] = result["rss_growth"] is not None and result["rss_growth"] < 0.10
    return result


def _spread(values: list[float]) -> list[float] | None:
    """The lowest and highest value as fractions of the median one (1.0 = perfectly flat)."""
    values = [v for v in values if v == v]  # NaN: nothing answered in that interval
    if not values:
        return None
    middle = statistics.median(values)
    return [round(min(values) / middle, 2), round(max(values) / middle, 2)]


def markdown(report: Report) -> str:
    lines = [f"**{report.server}**, concurrency {report.concurrency}, {report.seconds:.0f} s, "
             f"{report.requests} requests, statuses {report.statuses}", "",
             "| from (s) | requests | answered | shed 503 | errors | p50 ms | p95 ms | p99 ms | RSS MB | load | "
             "p50 ms by path |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for i in report.intervals:
        paths = ", ".join(f"{k} {v}" for k, v in i.p50_ms_by_path.items())
        lines.append(f"| {i.start_s} | {i.requests} | {i.answered} | {i.shed} | {i.errors} | {i.p50_ms} | "
                     f"{i.p95_ms} | {i.p99_ms} | {i.rss_mb} | {i.load1:.1f} | {paths} |")
    lines += ["", f"verdict: {json.dumps(report.verdict)}"]
    if report.drain:
        lines.append(f"drain on SIGTERM: {report.drain}")
    for e in report.error_samples[:5]:
        lines.append(f"error: {e}")
    return "\n".join(lines)


def soak(server: str, args, articles: list[dict]) -> Report:
    workload = Workload(server, articles, args.endpoints)
    started = None
    url, pid = args.url, args.pid
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        if not url:
            started = Started(server, Path(workdir))
            url, pid = started.url, started.process.pid
        try:
            done, rss, errors = drive(url, workload, args.concurrency, args.seconds, args.max_requests, pid,
                                      min(5.0, args.interval_s / 2))
            report = summarise(server, url, args, done, rss, errors)
            report.verdict["healthy_after"] = requests.get(url + "/health", timeout=30).ok
        finally:
            if started:
                code, took = started.stop()
        if started:
            report.server_ready_s = round(started.ready_s, 1)
            report.drain = {"exit_code": code, "seconds": round(took, 1)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=[*PREFIXES, "all"], default="all")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seconds", type=float, help="overrides --minutes")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--interval-s", type=int, default=60)
    parser.add_argument("--warmup-s", type=float, default=60)
    parser.add_argument("--url", help="a running server (loopback only) instead of starting one")
    parser.add_argument("--pid", type=int, help="its process id, for RSS")
    parser.add_argument("--endpoints", type=lambda s: s.split(","), help="text endpoints to call, e.g. t5_inference")
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if args.url and not (urlsplit(args.url).hostname or "").startswith(LOOPBACK):
        parser.error("--url must be a loopback address (127.0.0.0/8, localhost, ::1)")
    servers = list(PREFIXES) if args.server == "all" else [args.server]
    if args.url and len(servers) != 1:
        parser.error("--url needs one --server")
    articles = load_articles() if any(s != "file_server" for s in servers) else []
    reports = []
    for server in servers:
        report = soak(server, args, articles)
        print(markdown(report), flush=True)
        reports.append(report)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps([asdict(r) for r in reports], indent=2, ensure_ascii=False))
    return 0 if all(r.verdict.get("no_errors") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
