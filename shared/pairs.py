"""How (theme, stock) pairs are written as one T5 target sequence, shared by training and serving.

``theme = stock ; theme = stock`` — or ``없음`` when a sentence ties no stock to a theme.
"""
from __future__ import annotations

NONE = "없음"
FIELD_SEP = " = "
PAIR_SEP = " ; "
NONE_SCORE = -10


def format_pair(theme: str, stock: str) -> str:
    return f"{theme}{FIELD_SEP}{stock}"


def format_pairs(pairs: list[tuple[str, str]]) -> str:
    return PAIR_SEP.join(format_pair(t, s) for t, s in pairs) if pairs else NONE


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """The pairs in a generated sequence, in order, without duplicates; ``[]`` for ``없음``."""
    seen: dict[tuple[str, str], None] = {}
    for chunk in text.split(PAIR_SEP.strip()):
        theme, sep, stock = chunk.partition(FIELD_SEP.strip())
        theme, stock = theme.strip(), stock.strip()
        if sep and theme and stock and theme != NONE:
            seen.setdefault((theme, stock), None)
    return list(seen)
