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
   of the article: evidence anywhere in the article counts for it. For a stock with no evidence in
   its scope, a sentence listing it with two others of a theme the article evidences (a sector's
   movers) is evidence of that theme (``_tie_sector_lists``). A stock with no evidenced member theme
   is a passing mention and gets no label.
4. **The label** of a stock is its best-evidenced theme: the largest sum of keyword idf × count in the
   scope (for a sector list's stock, among the listed themes), ties broken by the same sum over the
   whole article, then by the theme list's order. Every
   theme evidenced in the scope (for a stock tied by its mentions alone, in the article) is a **gold
   theme** (for theme accuracy).
5. **Sentence labels** (the generator): each sentence gets the labelled stocks it names, each with its
   article label; a sentence with none gets ``없음``.

The rules themselves live in ``shared.candidates`` (``article_candidates``, ``Candidate.tied``): the
model is shown the same evidence as hints, and learns to choose from it.

Where a reader labelled the article (``data/naver_reader_train_2025.csv``: the stocks it ties to a
theme, with their fitting themes), the reader's stocks replace rules 3 and 4: a candidate is labelled
when the reader lists it, with the reader's first theme that is offered to it (else its best offered
theme: the model can answer no other, and the stock is what matters most; ``theme-train`` counts these
as ``reader_unoffered_themes``); a stock the text does not offer cannot be learnt and is left out.
The sentences are labelled from these pairs as in rule 5.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.candidates import _sentence_candidates, article_candidates, article_text, split_sentences, stock_finder
from shared.tfidf import TfidfMatcher


@dataclass
class ArticleLabels:
    pairs: list[tuple[str, str]]  # (theme, stock), stocks in order of first mention
    gold_themes: dict[str, list[str]]  # stock -> every evidenced member theme, best first
    sentences: list[str]  # the title first, then the body's sentences
    sentence_pairs: list[list[tuple[str, str]]]
    passing: list[str] = field(default_factory=list)  # stocks named but not tied to a theme
    unoffered_themes: list[str] = field(default_factory=list)  # reader's stocks labelled with a theme it did not give


class Labeller:
    def __init__(self, matcher: TfidfMatcher) -> None:
        self.matcher = matcher
        self.finder = stock_finder(matcher)

    def label(self, title: str, body: str, reader: dict[str, list[str]] | None = None) -> ArticleLabels:
        """The rules' labels, or with ``reader`` (stock -> themes, a reader's labels of this article) the
        reader's (module docstring)."""
        text = article_text(title, body)
        candidates = article_candidates(self.matcher, text)
        if reader is None:
            theme = {c.stock: c.themes[0] for c in candidates if c.tied}
            gold = {c.stock: list(c.offered) for c in candidates if c.tied}
        else:
            theme = {c.stock: next((t for t in reader[c.stock] if t in c.offered), c.offered[0])
                     for c in candidates if c.stock in reader}
            gold = {s: list(reader[s]) for s in theme}
        pairs = [(theme[c.stock], c.stock) for c in candidates if c.stock in theme]
        passing = [s for s in self.finder.find(text, title=title) if s not in theme]
        sentences = [title.strip()] + split_sentences(body)
        sentence_pairs = [[(theme[c.stock], c.stock) for c in _sentence_candidates(x, self.matcher, title, text)
                           if c.stock in theme] for x in sentences]
        unoffered = [s for t, s in pairs if reader is not None and t not in reader[s]]
        return ArticleLabels(pairs, gold, sentences, sentence_pairs, passing, unoffered)
