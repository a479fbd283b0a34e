"""The guide's /generation example, read from the guide at test time: which sentence has which idx.

The guide logs the answer to its 툴젠 article for idx 0, 1, 2 and 7; those sentences are the reference
for the split (article text is not copied into the repository, see ``tests/guide.py``).
"""
from __future__ import annotations

import json
import re

from tests.guide import guide_text

_PREFIX = re.compile(r"^[^|]*\|[^|]*\|\s?")


def generation_sentences() -> dict[int, str]:
    """idx -> sentence, as the guide's ``/generation`` example answers them."""
    section = guide_text().split("#### 2. /generation", 1)[1].split("#### 3.", 1)[0]
    found, idx = {}, None
    for line in section.splitlines():
        line = _PREFIX.sub("", line).strip()
        if match := re.fullmatch(r'"idx": (\d+),', line):
            idx = int(match.group(1))
        elif (match := re.fullmatch(r'"sentence": (".*")', line)) and idx is not None:
            found[idx] = json.loads(match.group(1))
    assert set(found) >= {0, 1, 2, 7}, f"the guide's /generation example changed: {sorted(found)}"
    return found
