"""A short load smoke: bench/soak.py for 30 s at concurrency 16 against theme_classification's
/t5_inference and /tf_inference (the ten-minute runs at 64 are in docs/robustness.md): only 200s and
503s, the server healthy after, and RSS bounded. The soak's bar is under 10% growth after a minute of
warm-up; 30 s is too short for it (RSS still steps up while batches and threads reach full size), so
the smoke allows 25%."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_thirty_seconds_at_concurrency_16(suite, tmp_path):
    server = suite["theme_classification"]
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--server", "theme_classification", "--url", server.url,
         "--pid", str(server.process.pid), "--seconds", "30", "--concurrency", "16", "--interval-s", "5",
         "--warmup-s", "15", "--endpoints", "t5_inference,tf_inference", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [report] = json.loads(out.read_text())
    assert set(report["statuses"]) <= {"200", "503"}, report["statuses"]
    assert report["statuses"].get("200", 0) >= 50, report["statuses"]
    verdict = report["verdict"]
    assert verdict["no_errors"] and verdict["healthy_after"], verdict
    assert verdict["rss_growth"] < 0.25, done.stdout
