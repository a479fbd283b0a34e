"""Korean sentence splitting with Kiwi (kiwipiepy), created once per app.

Kiwi splits on its morphological analysis, so ``물질이다.순시홀딩스그룹은`` (no space after the full stop,
common in scraped news) is two sentences where a regex on ``. `` sees one. Kiwi still keeps a final
ending glued to a Latin word together (``않았다.CTH-004는``), so each of its sentences is split again
after a sentence-final ending (EF) and its full stop (SF) when a word follows without a space.

Kiwi takes a few seconds to start and its first analysis is slow, so both happen in ``load``. Only as
much of a long body is analysed as the sentence cap needs: the text goes through Kiwi in windows of
``WINDOW`` characters until enough sentences are found.
"""
from __future__ import annotations

import logging
import threading
import time

from kiwipiepy import Kiwi

logger = logging.getLogger(__name__)

WINDOW = 4_000  # characters analysed per Kiwi call; about 2 ms per 100 characters on one core
_WORD_TAGS = ("SL", "SN", "SH")  # Latin, number, Hanja: words, although their tags start with S


class SentenceSplitter:
    """Thread-safe: one Kiwi, one analysis at a time (each takes milliseconds)."""

    def __init__(self, kiwi: Kiwi, window: int = WINDOW) -> None:
        self._kiwi, self.window = kiwi, window
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> "SentenceSplitter":
        started = time.perf_counter()
        splitter = cls(Kiwi())
        splitter.split("준비 문장이다.다음 문장이다.")  # the first analysis loads the language model
        logger.info("loaded Kiwi sentence splitter in %.1fs", time.perf_counter() - started)
        return splitter

    def split(self, text: str, limit: int = 0) -> list[str]:
        """The sentences of ``text`` in order, stripped, none empty; at most ``limit`` when it is set."""
        sentences: list[str] = []
        start = 0
        while start < len(text) and not (limit and len(sentences) >= limit):
            end = min(len(text), start + self.window)
            spans = self._spans(text[start:end])
            if end < len(text) and len(spans) > 1:
                spans.pop()  # may be cut by the window: it starts the next one
            sentences.extend(s for a, b in spans if (s := text[start + a:start + b].strip()))
            advance = spans[-1][1] if spans and end < len(text) else end - start
            start += advance or end - start
        return sentences[:limit] if limit else sentences

    def _spans(self, chunk: str) -> list[tuple[int, int]]:
        with self._lock:
            analysed = self._kiwi.split_into_sents(chunk, return_tokens=True, return_sub_sents=False)
        spans = []
        for sentence in analysed:
            begin = sentence.start
            tokens = sentence.tokens
            for prev, token, nxt in zip(tokens, tokens[1:], tokens[2:]):
                glued = nxt.start == token.start + token.len
                if prev.tag == "EF" and token.tag == "SF" and glued and _is_word(nxt.tag):
                    spans.append((begin, token.start + token.len))
                    begin = nxt.start
            spans.append((begin, sentence.end))
        return spans


def _is_word(tag: str) -> bool:
    return not tag.startswith("S") or tag in _WORD_TAGS
