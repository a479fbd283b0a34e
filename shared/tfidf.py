"""The dictionary side of theme classification: stocks found by name, themes evidenced by keywords.

Score (see README, "The /tf_inference score"): over the vocabulary of all theme keywords in the active
list, the article is a TF-IDF vector (occurrence counts × idf, L2-normalised) and each theme a vector
of its own keywords (idf, L2-normalised); ``score = ln(cosine(article, theme))``. It is 0 only when
the article's theme-word counts are proportional to the theme's idf weights, and falls as the
article's theme words spread to other themes or away from the theme's own mix. ``idf(term) = ln((1 + n_themes) / (1 + themes using the term)) + 1``.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from shared.themes import TermCounter, ThemeList


@dataclass
class TfMatch:
    theme: str
    stock: str
    score: float
    theme_count: int
    stock_count: int

    def as_dict(self) -> dict:
        return {"theme": self.theme, "stock": self.stock, "score": self.score,
                "theme_count": self.theme_count, "stock_count": self.stock_count}


# Everyday words and a listed name that contain a theme keyword of the default list without meaning it:
# 방산 (defence) in 전방산업/후방산업 (downstream/upstream industry), 지방산(업) (fatty acid, regional
# industry); 원전 (nuclear plant) in 대원전선 (a cable maker); 통신 in 통신원 (a correspondent).
NOT_KEYWORDS = ("전방산업", "후방산업", "지방산", "대원전선", "통신원")


class TfidfMatcher:
    """Built once per theme list; ``match`` is read-only, so concurrent requests may share it."""

    def __init__(self, themes: ThemeList) -> None:
        self.themes = themes
        n = len(themes.themes)
        df = Counter(term for theme in themes.themes for term in themes.keywords[theme])
        self.idf = {term: math.log((1 + n) / (1 + d)) + 1 for term, d in df.items()}
        self.vectors: dict[str, dict[str, float]] = {}
        for theme in themes.themes:
            norm = math.sqrt(sum(self.idf[t] ** 2 for t in themes.keywords[theme]))
            self.vectors[theme] = {t: self.idf[t] / norm for t in themes.keywords[theme]}
        self._terms = TermCounter(set(self.idf), NOT_KEYWORDS, whole_latin=True)
        self._stock_of = {alias: stock for stock, names in themes.aliases.items() for alias in names}
        self._names = TermCounter(set(self._stock_of))

    def mentions(self, text: str) -> Counter[str]:
        """How often each listed stock (by name or alias) occurs in ``text``."""
        counts: Counter[str] = Counter()
        for name, k in self._names.count(text).items():
            counts[self._stock_of[name]] += k
        return counts

    def theme_score(self, text: str, theme: str) -> float | None:
        """The score ``match`` gives ``theme`` in ``text`` (None: no keyword of it occurs)."""
        weights, norm = self._weights(self._terms.count(text))
        cosine = self._cosine(weights, norm, theme)
        return math.log(min(cosine, 1.0)) if cosine > 0 else None

    def _weights(self, terms: Counter[str]) -> tuple[dict[str, float], float]:
        weights = {t: k * self.idf[t] for t, k in terms.items()}
        return weights, math.sqrt(sum(w * w for w in weights.values())) or 1.0

    def _cosine(self, weights: dict[str, float], norm: float, theme: str) -> float:
        return sum(weights.get(t, 0.0) * v for t, v in self.vectors[theme].items()) / norm

    def match(self, text: str) -> list[TfMatch]:
        """For each stock found, its best-evidenced member theme; best score first."""
        stocks = self.mentions(text)
        if not stocks:
            return []
        terms = self._terms.count(text)
        weights, norm = self._weights(terms)
        results = []
        for stock, stock_count in stocks.items():
            best = None
            for theme in self.themes.themes_of[stock]:
                vector = self.vectors[theme]
                cosine = self._cosine(weights, norm, theme)
                if cosine <= 0:
                    continue
                theme_count = sum(terms.get(t, 0) for t in vector)
                candidate = (cosine, theme_count, theme)
                if best is None or candidate > best:
                    best = candidate
            if best:
                cosine, theme_count, theme = best
                results.append(TfMatch(theme, stock, math.log(min(cosine, 1.0)), theme_count, stock_count))
        results.sort(key=lambda m: (-m.score, -m.stock_count, m.stock))
        return results
