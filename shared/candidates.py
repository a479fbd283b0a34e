"""What each T5 task reads and what it may answer — one definition shared by training and serving.

A small model is not asked to spell company names: for every input the allowed outputs are built
from the active theme list and the text itself, and decoding is constrained to them (see
``shared.t5.OutputTrie``). The model only ranks candidates, so it can never emit a stock that the
text does not mention.
"""
from __future__ import annotations

from shared.pairs import NONE, format_pair
from shared.tfidf import TfidfMatcher

RELATED, UNRELATED = "related", "unrelated"


def article_text(title: str, body: str) -> str:
    return f"{title} {body}".strip()


def classify_source(title: str, body: str) -> str:
    return article_text(title, body)


def classify_outputs(text: str, matcher: TfidfMatcher) -> list[str]:
    """Every (member theme, stock) pair of the stocks the text mentions, and ``없음``."""
    pairs = [format_pair(theme, stock)
             for stock in matcher.mentions(text)
             for theme in matcher.themes.themes_of[stock]]
    return pairs + [NONE]


def generate_source(sentence: str) -> str:
    return sentence


def generate_outputs(sentence: str, matcher: TfidfMatcher) -> list[str]:
    """Pairs of the stocks the sentence mentions with their member themes, and ``없음``."""
    return classify_outputs(sentence, matcher)


def relevance_source(title: str, sentence: str) -> str:
    return f"제목: {title} 문장: {sentence}"


RELEVANCE_OUTPUTS = [RELATED, UNRELATED]
