"""The operations guide's example article (툴젠), read from the guide itself at test time.

Article text is the publisher's, so it is not copied into the repository: the guide beside the
checkout (``../shared/spec/operations-guide-ko.md``) logs it as ``t5_inference title : ...`` and
``t5_inference body : ...``, and that is where the tests take it from.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "operations-guide-ko.md"


@cache
def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _logged(field: str) -> str:
    match = re.search(rf"\|DEBUG\|t5_inference {field} : (.+)", guide_text())
    assert match, f"the guide no longer logs the t5_inference {field}"
    return match.group(1).strip()


def article() -> tuple[str, str]:
    """(title, body) of the guide's 툴젠 article."""
    return _logged("title"), _logged("body")
