"""The curl examples of README.md (the file_server section), run as written (port aside) with their shown output.

Each ```console block runs in order in one scratch folder against a fresh server; a block under
``<!-- example-server: KEY=value ... -->`` gets a server with those settings. ``$ `` lines are
commands, the lines after one are its expected stdout. Timestamps and free disk are masked.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOC = ROOT / "README.md"
DOC_URL = "http://127.0.0.1:8003"
BLOCK = re.compile(r"(?:<!-- example-server: (?P<settings>[^>]*) -->\n)?```console\n(?P<body>.*?)```", re.S)
MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"), "<time>"),
    (re.compile(r"(Date|Last-Modified): .*"), r"\1: <date>"),
    (re.compile(r'"free_bytes": \d+'), '"free_bytes": <n>'),
]


@dataclass
class Example:
    command: str
    output: str


@dataclass
class Block:
    settings: dict[str, str]
    examples: list[Example] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    found = []
    for match in BLOCK.finditer(text):
        settings = dict(s.split("=", 1) for s in (match["settings"] or "").split())
        block = Block(settings)
        for line in match["body"].splitlines():
            if line.startswith("$ "):
                block.examples.append(Example(line[2:], ""))
            else:
                block.examples[-1].output += line + "\n"
        found.append(block)
    return found


def mask(text: str) -> str:
    text = text.replace("\r\n", "\n")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def run(command: str, url: str, cwd: Path) -> str:
    result = subprocess.run(["bash", "-c", command.replace(DOC_URL, url)], cwd=cwd, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    return result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_examples_work_as_written(run_server, tmp_path):
    found = blocks(DOC.read_text(encoding="utf-8"))
    assert sum(len(b.examples) for b in found) >= 20
    scratch = tmp_path / "cwd"
    scratch.mkdir()
    for i, block in enumerate(found):
        server = run_server("file_server", "FILE_SERVER", ROOT=tmp_path / f"store{i}", **block.settings)
        for example in block.examples:
            assert mask(run(example.command, server.url, scratch)) == mask(example.output), example.command
