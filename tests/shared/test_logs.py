"""shared.logs on a bare Flask app: pretty JSON, Korean unescaped, long bodies cut, paths escaped."""
import logging
import re

from flask import Flask

from shared.logs import install_request_logging


def app_with(max_chars: int) -> Flask:
    app = Flask(__name__)
    app.config["LOG_RESPONSE_MAX_CHARS"] = max_chars
    install_request_logging(app)
    app.add_url_rule("/small", "small", lambda: {"theme": "배터리"})
    app.add_url_rule("/big", "big", lambda: {"stocks": ["삼성전자"] * 1000})
    return app


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shared.logs"]


def test_responses_are_pretty_printed_with_korean_readable(caplog):
    caplog.set_level(logging.DEBUG)
    app_with(1000).test_client().get("/small")
    assert messages(caplog) == ["[OPENAPI] small", '[OPENAPI][200 OK] {\n  "theme": "배터리"\n}']


def test_a_body_over_the_cap_is_logged_cut_short(caplog):
    caplog.set_level(logging.DEBUG)
    body = app_with(100).test_client().get("/big").get_data()
    [_, outcome] = messages(caplog)
    assert outcome.startswith('[OPENAPI][200 OK] {"stocks"')
    assert outcome.endswith(f"... <{len(body) - 100} more bytes of application/json not logged>")


def test_control_characters_in_the_path_are_escaped(caplog):
    caplog.set_level(logging.DEBUG)
    app_with(0).test_client().get("/a%0Ab%00c")
    assert messages(caplog)[0] == "[OPENAPI] a\\nb\\x00c"


def test_gunicorns_own_lines_come_in_the_servers_format(run_server, tmp_path):
    """Workers booting (and signals, timeouts) are gunicorn's lines: in pm2 logs they must read like the
    server's own, not ``[date] [pid] [INFO]``."""
    server = run_server("file_server", "FILE_SERVER", ROOT=tmp_path / "files")
    booting = [line for line in server.log().splitlines() if "Booting worker with pid" in line]
    assert booting and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - INFO - Booting worker with pid: \d+",
                                        line) for line in booting), booting
    assert not [line for line in server.log().splitlines() if re.match(r"\[\d{4}-", line)]
