"""SIGTERM and SIGINT let requests already being served finish before the process exits."""
import signal
import threading
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.guide import article


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_drain_in_flight_requests(run_server, t5_model_dir, tmp_path, sig):
    server = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                        DATA_DIR=tmp_path, DEFAULT_THEME_LIST=ROOT / "data" / "themes.csv", NUM_BEAMS=8)
    title, body = article()
    answers = []

    def call():
        r = requests.post(server.url + "/theme_inference", json={"title": title, "body": body * 6}, timeout=120)
        answers.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while server.log().count("theme_inference body :") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)  # all four are being served
    server.process.send_signal(sig)
    for t in threads:
        t.join()
    assert server.process.wait(timeout=60) == 0
    assert answers == [200, 200, 200, 200]
