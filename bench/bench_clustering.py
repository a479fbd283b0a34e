"""How long /clustering takes for 100,000 articles, against a naive baseline measured in the same run.

    .venv/bin/python bench/bench_clustering.py                       # in-process
    .venv/bin/python bench/bench_clustering.py --url http://127.0.0.1:8002   # also over HTTP

The CSV is synthetic (no article text): one row per article, ``objid`` and ``result`` shaped like the
answer of ``/inference`` (theme, stock, score, gen_score, rel_score, sentence), 0-5 pairs per row. Theme
names are the shipped theme list's plus spelling variants (``2차 전지``, ``이차전지``, ``2차전지주`` ...)
and, with ``--free-names``, that many invented names, to load the name merging.

Two baselines, timed in the same run so that the ratios hold on any machine:

- ``floor``: ``csv`` + ``json.loads`` + dicts, exact theme names, no row checks, garbage collection
  paused as ours is: the least any implementation must spend reading the file. ours / floor is the
  price of the row checks and the name merging.
- ``pandas``: ``read_csv``, ``json.loads`` per cell, explode, groupby on the exact name -- what a first
  version would likely do.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from theme_generation import clustering  # noqa: E402


def theme_list() -> tuple[list[str], list[str]]:
    with open(ROOT / "data" / "themes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return sorted({r["theme"] for r in rows}), sorted({r["stock"] for r in rows})


def variants(name: str) -> list[str]:
    out = [name, name.replace(" ", ""), name + "주", name + " 관련주"]
    if name.startswith("2차"):
        out.append("이차" + name[2:])
    return out


def make_csv(rows: int, free_names: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    themes, stocks = theme_list()
    names = [v for t in themes for v in variants(t)]
    syllables = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허"
    names += ["".join(rng.choice(syllables) for _ in range(rng.randint(3, 7))) for _ in range(free_names)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["objid", "result"])
    for i in range(rows):
        result = []
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 5))):
            theme, stock = rng.choice(names), rng.choice(stocks)
            gen, rel = -round(rng.random(), 3), -round(rng.random() / 10, 3)
            result.append({"theme": theme, "stock": stock, "score": round(gen + rel, 3), "gen_score": gen,
                           "rel_score": rel, "sentence": f"{stock}은 {theme} 사업을 확대한다고 밝혔다. (합성 문장 {i})"})
        writer.writerow([f"id{i:013d}", json.dumps(result, ensure_ascii=False)])
    return out.getvalue().encode("utf-8")


def floor(data: bytes) -> list[dict]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader)
    themes: dict[str, dict[str, dict[str, None]]] = {}
    for objid, cell in reader:
        for pair in json.loads(cell):
            themes.setdefault(pair["theme"], {}).setdefault(pair["stock"], {})[objid] = None
    groups = [{"theme": theme, "count": sum(map(len, stocks.values())),
               "companies": sorted(({"stock": s, "count": len(o), "objids": list(o)} for s, o in stocks.items()),
                                   key=lambda c: -c["count"])}
              for theme, stocks in themes.items()]
    return sorted(groups, key=lambda g: -g["count"])


def pandas_baseline(data: bytes) -> list[dict]:
    frame = pd.read_csv(io.BytesIO(data), dtype=str)
    frame["result"] = frame["result"].map(json.loads)
    pairs = frame.explode("result").dropna(subset=["result"])
    pairs = pd.DataFrame({"objid": pairs["objid"].to_numpy(),
                          "theme": [p["theme"] for p in pairs["result"]],
                          "stock": [p["stock"] for p in pairs["result"]]}).drop_duplicates()
    groups = []
    for theme, by_theme in pairs.groupby("theme", sort=False):
        companies = [{"stock": stock, "count": len(g), "objids": g["objid"].tolist()}
                     for stock, g in by_theme.groupby("stock", sort=False)]
        companies.sort(key=lambda c: -c["count"])
        groups.append({"theme": theme, "count": sum(c["count"] for c in companies), "companies": companies})
    return sorted(groups, key=lambda g: -g["count"])


def ours(data: bytes) -> tuple[list[dict], dict[str, float]]:
    themes, _ = theme_list()
    started = time.perf_counter()
    with clustering.gc_paused():  # as the server does
        upload = clustering.read_upload(data)
        read = time.perf_counter()
        groups = clustering.cluster(upload.articles, clustering.DEFAULT_THRESHOLD, themes)
        done = time.perf_counter()
    return groups, {"read": read - started, "cluster": done - read, "total": done - started}


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--free-names", type=int, default=2_000, help="invented theme names added to the mix")
    parser.add_argument("--url", help="also POST the CSV to this running theme_generation server")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds the in-process run must stay under")
    args = parser.parse_args()

    data = make_csv(args.rows, args.free_names)
    print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB of CSV")
    with clustering.gc_paused():
        low, low_s = timed(floor, data)
    base, base_s = timed(pandas_baseline, data)
    (groups, parts), _ = timed(ours, data)
    print(f"floor  (csv + json, exact names):  {low_s:6.2f} s  {len(low):5d} themes")
    print(f"pandas (groupby, exact names):     {base_s:6.2f} s  {len(base):5d} themes")
    print(f"ours   (row checks + merging):     {parts['total']:6.2f} s  {len(groups):5d} themes  "
          f"(read {parts['read']:.2f} s, cluster {parts['cluster']:.2f} s)")
    print(f"ratio ours / floor: {parts['total'] / low_s:.2f}   ours / pandas: {parts['total'] / base_s:.2f}")
    if args.url:
        import requests

        started = time.perf_counter()
        response = requests.post(args.url.rstrip("/") + "/clustering",
                                 files={"file": ("bench.csv", data, "text/csv")}, timeout=600)
        http_s = time.perf_counter() - started
        response.raise_for_status()
        print(f"HTTP {args.url}: {http_s:6.2f} s  {len(response.json()):5d} themes  "
              f"ratio HTTP / floor: {http_s / low_s:.2f}")
    if parts["total"] > args.limit:
        sys.exit(f"too slow: {parts['total']:.1f} s > {args.limit:.0f} s")


if __name__ == "__main__":
    main()
