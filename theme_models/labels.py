"""Distant supervision: which (theme, stock) pairs an article ties together, by rule.

No human labels exist for the Naver articles, so training and the held-out dev slice use these rules
(documented with their counts in ``docs/models.md``):

1. **Stocks** are the mentions ``shared.candidates.StockFinder`` accepts (whole words, ambiguous and
   group names only with evidence, brokerages only as subjects).
2. **Scope** of a stock: the whole article when the title names it (the article is about it),
   otherwise the title (the article's topic) and the sentences that name it.
3. **Theme evidence** (``shared.candidates.theme_evidence``): a member theme of the stock is evidenced
   when one of its keywords (the theme list's ``keywords`` column and the theme name) occurs in the
   scope, outside listed names. A stock named at least twice (``MIN_SUBJECT_MENTIONS``) is a subject
   of the article: evidence anywhere in the article counts for it. A stock with no evidenced member
   theme is a passing mention and gets no label.
4. **The label** of a stock is its best-evidenced theme: the largest sum of keyword idf × count in the
   scope, ties broken by the same sum over the whole article, then by the theme list's order. Every
   evidenced theme is a **gold theme** (for theme accuracy).
5. **Sentence labels** (the generator): each sentence gets the labelled stocks it names, each with its
   best-evidenced theme in that sentence, or its article label when the sentence has no evidence; a
   sentence with none gets ``없음``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.candidates import Mention, article_text, split_sentences, stock_finder, theme_evidence
from shared.tfidf import TfidfMatcher


MIN_SUBJECT_MENTIONS = 2


@dataclass
class ArticleLabels:
    pairs: list[tuple[str, str]]  # (theme, stock), stocks in order of first mention
    gold_themes: dict[str, list[str]]  # stock -> every evidenced member theme, best first
    sentences: list[str]  # the title first, then the body's sentences
    sentence_pairs: list[list[tuple[str, str]]]
    passing: list[str] = field(default_factory=list)  # stocks found but not tied to a theme


class Labeller:
    def __init__(self, matcher: TfidfMatcher) -> None:
        self.matcher = matcher
        self.finder = stock_finder(matcher)
        self.themes = matcher.themes

    def evidence(self, text: str, stock: str) -> dict[str, float]:
        return theme_evidence(text, stock, self.matcher)

    def label(self, title: str, body: str) -> ArticleLabels:
        text = article_text(title, body)
        sentences = [title.strip()] + split_sentences(body)
        found = self.finder.find(text, title=title)
        pairs, gold, passing = [], {}, []
        whole_cache: dict[str, dict[str, float]] = {}
        for stock, mention in found.items():
            scope = text if _in_title(mention, title) else "\n".join(
                [title] + [s for s in sentences[1:] if any(n in s for n in mention.names)])
            scores = self.evidence(scope, stock)
            if not scores and mention.count >= MIN_SUBJECT_MENTIONS:  # named again and again: a subject
                scores = self.evidence(text, stock)
            if not scores:
                passing.append(stock)
                continue
            whole_cache[stock] = self.evidence(text, stock)
            ranked = self._rank(scores, whole_cache[stock], stock)
            gold[stock] = ranked
            pairs.append((ranked[0], stock))
        sentence_pairs = [self._sentence_pairs(s, text, title, gold, whole_cache) for s in sentences]
        return ArticleLabels(pairs, gold, sentences, sentence_pairs, passing)

    def _rank(self, scores: dict[str, float], whole: dict[str, float], stock: str) -> list[str]:
        order = {t: i for i, t in enumerate(self.themes.themes_of[stock])}
        return sorted(scores, key=lambda t: (-scores[t], -whole.get(t, 0.0), order[t]))

    def _sentence_pairs(self, sentence: str, text: str, title: str, gold: dict[str, list[str]],
                        whole: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
        found = self.finder.find(sentence, context=text, title=title if sentence == title.strip() else "")
        out = []
        for stock in found:
            if stock not in gold:
                continue
            scores = {t: v for t, v in self.evidence(sentence, stock).items() if t in gold[stock]}
            theme = self._rank(scores, whole[stock], stock)[0] if scores else gold[stock][0]
            out.append((theme, stock))
        return out


def _in_title(mention: Mention, title: str) -> bool:
    return any(n in title for n in mention.names)
