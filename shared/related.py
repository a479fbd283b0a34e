"""Related words: how close a title's words are to a sentence's in the news corpus, for the relevance hint.

The relevance model decides mostly on the ``공통:`` hint in front of its input (``relevance_source``):
it learned that a title and a sentence which share something are related. A sentence of an article can
share no word with its title and still be about it (a title on 2차전지 stocks, a sentence on electric
car subsidies). For those pairs the hint names one pair of words that the news corpus puts close
together, when the two texts as a whole are close enough.

The word vectors come from the training articles only (``theme_models.related_words`` builds them):
each word's positive pointwise mutual information with every other word, by the articles they occur
in together, reduced to ``dims`` dimensions by SVD, centred and normalised. A text's vector is the
idf-weighted sum of its known words' vectors. Measured on held-out pairs (docs/models.md): with the
default ``min_similarity`` 0.6, article pairs .769 -> .801, KorSTS pairs .774 -> .767.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shared.candidates import content_words, reads_hints

if TYPE_CHECKING:
    from shared.tfidf import TfidfMatcher

RELATED_FILE = "related_words.npz"  # beside the model's weights; theme_model.json's "related_words" names it
DEFAULT_MIN_SIMILARITY = 0.6
CACHED_CHARS = 2_000  # longer texts are not cached


class RelatedWords:
    """Word vectors (unit length, centred) and idf weights of one vocabulary."""

    def __init__(self, words: list[str], vectors: np.ndarray, idf: np.ndarray,
                 min_similarity: float = DEFAULT_MIN_SIMILARITY, cache_size: int = 1024) -> None:
        if len(words) != len(vectors) or len(words) != len(idf):
            raise ValueError(f"{len(words)} words, {len(vectors)} vectors, {len(idf)} idf weights")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.min_similarity = min_similarity
        self._cached = lru_cache(maxsize=cache_size)(self._compute)  # /inference: many sentences, one title

    @classmethod
    def load(cls, path: str | Path, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> "RelatedWords":
        with np.load(path, allow_pickle=False) as data:
            words = data["words"].tobytes().decode("utf-8").split("\n")
            return cls(words, data["vectors"], data["idf"], min_similarity)

    @classmethod
    def for_model(cls, model_dir: Path, meta: dict) -> "RelatedWords | None":
        """The related words a model's ``theme_model.json`` names (``"related_words": {"file", "min_similarity"}``),
        or None (a user's own T5, or a model built without them)."""
        spec = meta.get("related_words")
        if not spec:
            return None
        path = Path(model_dir) / spec.get("file", RELATED_FILE)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: named by {Path(model_dir) / 'theme_model.json'} but missing")
        return cls.load(path, float(spec.get("min_similarity", DEFAULT_MIN_SIMILARITY)))

    def save(self, path: str | Path) -> None:
        words = np.frombuffer("\n".join(self.words).encode("utf-8"), dtype=np.uint8)  # UTF-8, not numpy's UTF-32
        with open(path, "wb") as f:  # np.savez would add ".npz" to a name without it
            np.savez(f, words=words, vectors=self.vectors.astype(np.float16), idf=self.idf)

    def _text(self, text: str) -> tuple[list[int], np.ndarray | None]:
        """The text's known words (first occurrence order) and its unit vector (None without known words);
        titles and sentences are cached, a whole article sent to /relevance is not worth holding."""
        return self._cached(text) if len(text) <= CACHED_CHARS else self._compute(text)

    def _compute(self, text: str) -> tuple[list[int], np.ndarray | None]:
        ids = [i for w in dict.fromkeys(content_words(text)) if (i := self.index.get(w)) is not None]
        if not ids:
            return ids, None
        summed = self.idf[ids] @ self.vectors[ids]
        norm = float(np.linalg.norm(summed))
        return ids, (summed / norm if norm > 0 else None)

    def similarity(self, a: str, b: str) -> float | None:
        """Cosine of the two texts' vectors; None when either has no known word."""
        (_, x), (_, y) = self._text(a), self._text(b)
        return None if x is None or y is None else float(x @ y)

    def link(self, title: str, sentence: str) -> list[str]:
        """When the texts are close (``similarity > min_similarity``), the title word and the sentence
        word closest to each other (closeness times the root of their idf product: informative words
        first); else nothing."""
        (title_ids, x), (sentence_ids, y) = self._text(title), self._text(sentence)
        if x is None or y is None or float(x @ y) <= self.min_similarity:
            return []
        pairs = self.vectors[title_ids] @ self.vectors[sentence_ids].T  # closeness, weighted to rarer words
        pairs *= np.sqrt(np.outer(self.idf[title_ids], self.idf[sentence_ids]))
        i, j = np.unravel_index(int(pairs.argmax()), pairs.shape)
        return list(dict.fromkeys([self.words[title_ids[i]], self.words[sentence_ids[j]]]))


def relevance_hints(model, matcher: TfidfMatcher) -> tuple[TfidfMatcher | None, RelatedWords | None]:
    """What ``relevance_source`` is given for ``model`` (a loaded generator): the matcher and the model's
    related words for ``theme-train`` models, nothing for another T5 (it reads title and sentence only).
    Loads the related words: call it once per model, at start-up."""
    if not reads_hints(model.meta):
        return None, None
    return matcher, RelatedWords.for_model(model.path, model.meta)
