"""/clustering over HTTP: rows whose names are not names are skipped and reported, never grouped."""
from __future__ import annotations

import csv
import io
import json

import requests


def _csv(rows: list[tuple[str, list[dict]]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["objid", "result"])
    writer.writerows((objid, json.dumps(result, ensure_ascii=False)) for objid, result in rows)
    return out.getvalue().encode("utf-8")


def test_a_control_character_is_no_theme(server):
    data = _csv([("id1", [{"theme": "2차전지", "stock": "LG에너지솔루션", "score": -0.1}]),
                 ("id2", [{"theme": "\u0000", "stock": "LG"}]),  # the black-box tester's row
                 ("id3", [{"theme": "2차전지", "stock": "LG\u001b[2J"}]),
                 ("id4", [{"theme": "", "stock": "LG"}])])
    r = requests.post(server.url + "/clustering", files={"file": ("a.csv", data)}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json() == [{"theme": "2차전지", "count": 1,
                         "companies": [{"stock": "LG에너지솔루션", "count": 1, "objids": ["id1"]}]}]
    assert (r.headers["X-Rows-Total"], r.headers["X-Rows-Skipped"], r.headers["X-Skipped-Lines"]) == (
        "4", "3", "3,4,5")
    server.wait_for_log("line 3: an entry's theme or stock contains a control character (U+0000); "
                        "line 4: an entry's theme or stock contains a control character (U+001B); "
                        "line 5: an entry's theme and stock must be non-empty strings")
