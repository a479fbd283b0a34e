"""Theme classification without Flask: the T5 classifier, the TF-IDF matcher and the theme list."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.candidates import article_candidates, article_text, classify_outputs, classify_source, reads_hints
from shared.errors import StorageError
from shared.pairs import NONE_SCORE, parse_pairs
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList

logger = logging.getLogger(__name__)

ACTIVE_LIST = "themes.csv"
LOCK_FILE = ".themes.lock"
STALE_UPLOAD_S = 60.0  # an upload writes its temp file and renames it within a second or two


@dataclass(frozen=True)
class ThemeState:
    """One theme list and the matcher built from it; replaced whole, never mutated."""

    themes: ThemeList
    matcher: TfidfMatcher
    source: str  # "default" (shipped) or "uploaded"


def _version(info: os.stat_result) -> tuple[int, int, int]:
    """What changes when the list file is replaced (uploads rename a new file over it)."""
    return info.st_ino, info.st_mtime_ns, info.st_size


def _file_version(path: Path) -> tuple[int, int, int] | None:
    try:
        return _version(path.stat())
    except OSError:
        return None


@contextmanager
def _across_processes(data_dir: Path):
    """Held while a process saves the list: uploads in two server processes at once take turns."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class ClassificationService:
    """Several server processes may share ``data_dir``: a list one of them accepts is written there, and
    each of the others loads it at its next request (``current``)."""

    def __init__(self, t5: T5Generator, state: ThemeState, data_dir: Path, num_beams: int = 4) -> None:
        self.t5, self.state, self.data_dir, self.num_beams = t5, state, data_dir, num_beams
        self._upload_lock = threading.Lock()
        self._version = _file_version(data_dir / ACTIVE_LIST)

    @staticmethod
    def load_themes(data_dir: Path, default_list: Path) -> ThemeState:
        """The last accepted upload when there is one, else the shipped default list."""
        for stale in data_dir.glob(f".{ACTIVE_LIST}.*.tmp"):  # an upload killed between write and rename
            try:
                age = time.time() - stale.stat().st_mtime
            except OSError:
                continue
            if age > STALE_UPLOAD_S:  # a younger one may be another server process's upload in progress
                logger.warning("removing %s, left by an upload that did not finish", stale)
                stale.unlink(missing_ok=True)
        path, source = data_dir / ACTIVE_LIST, "uploaded"
        if not path.is_file():
            path, source = default_list, "default"
        themes = ThemeList.load(path)
        logger.info("theme list %s: %d pairs, %d themes", path, len(themes), len(themes.themes))
        return ThemeState(themes, TfidfMatcher(themes), source)

    def current(self) -> ThemeState:
        """The active theme list, reloaded first if another process has accepted an upload since (one
        ``stat`` per request; the reload, once per upload, costs what building the matcher costs)."""
        path = self.data_dir / ACTIVE_LIST
        if _file_version(path) in (None, self._version):
            return self.state
        with self._upload_lock:
            try:
                with open(path, "rb") as f:  # the version of exactly what is read
                    version, data = _version(os.fstat(f.fileno())), f.read()
            except OSError:
                return self.state
            if version != self._version:
                try:
                    themes = ThemeList.from_csv_bytes(data)
                    self.state = ThemeState(themes, TfidfMatcher(themes), "uploaded")
                    logger.info("theme list %s changed: %d pairs, %d themes", path, len(themes), len(themes.themes))
                except Exception:  # noqa: BLE001 - it was valid when accepted; keep serving the last one
                    logger.exception("could not reload %s; the previous list stays active", path)
                self._version = version  # the same file would fail the same way: wait for the next one
        return self.state

    def t5_inference(self, title: str, body: str, state: ThemeState | None = None) -> list[dict]:
        matcher = (state or self.current()).matcher
        outputs = classify_outputs(article_text(title, body), matcher)
        if len(outputs) <= 1:  # only 없음: no listed stock in the text, nothing to rank
            return []
        trie = self.t5.trie(outputs, chain=True)
        source = classify_source(title, body, matcher if reads_hints(self.t5.meta) else None)
        [gen] = self.t5.generate("classify", [source], [trie], self.num_beams)
        score = round(gen.score, 3)
        return [{"theme": theme, "stock": stock, "score": score} for theme, stock in parse_pairs(gen.text)]

    def tf_inference(self, title: str, body: str, state: ThemeState | None = None) -> list[dict]:
        return [m.as_dict() for m in (state or self.current()).matcher.match(article_text(title, body))]

    def theme_inference(self, title: str, body: str) -> dict:
        """The T5's stocks, each with the tf pair when the dictionary found it too with a theme the
        candidate rules offer it (``Candidate.offered``), else the T5's pair; then the stocks the T5 left
        out that the candidate rules tie to a theme (named in the title or twice, or with theme evidence
        in their own sentences: ``Candidate.tied``), the dictionary's first, each with its tf pair if
        that theme is offered, else with the best offered theme and the tf score of that theme (the
        lowest score where only business words evidence it)."""
        state = self.current()  # one theme list throughout, even if an upload switches it meanwhile
        t5_result = self.t5_inference(title, body, state)
        logger.debug("inference")
        tf_result = self.tf_inference(title, body, state)
        text = article_text(title, body)
        candidates = {c.stock: c for c in article_candidates(state.matcher, text)}
        tf_by_stock = {m["stock"]: m for m in tf_result if m["stock"] in candidates
                       and m["theme"] in candidates[m["stock"]].offered}
        result, seen = [], set()
        for pair in t5_result:
            stock = pair["stock"]
            if stock in seen:
                continue
            seen.add(stock)
            tf = tf_by_stock.get(stock)
            chosen = tf if tf else pair
            result.append({"theme": chosen["theme"], "stock": stock, "score": chosen["score"],
                           "from": "tf" if tf else "t5"})
        # the dictionary's order (best score first), then the stocks only business words evidence
        for stock in dict.fromkeys([*(m["stock"] for m in tf_result), *candidates]):
            if stock in seen or stock not in candidates or not candidates[stock].tied:
                continue
            if stock in tf_by_stock:
                tf = tf_by_stock[stock]
                result.append({"theme": tf["theme"], "stock": stock, "score": tf["score"], "from": "tf"})
            else:  # the dictionary's theme is not offered: the best offered one, with the score it gets
                theme = candidates[stock].offered[0]
                score = state.matcher.theme_score(text, theme)  # None: offered by its business words only
                result.append({"theme": theme, "stock": stock, "score": NONE_SCORE if score is None else score,
                               "from": "tf"})
        return {"result": result, "t5_result": t5_result, "tf_result": tf_result}

    def upload(self, data: bytes) -> ThemeState:
        """Validate, persist atomically, then switch: a bad file or a failed write changes nothing."""
        logger.debug("load_theme_list")
        themes = ThemeList.from_csv_bytes(data)
        logger.debug("load")
        state = ThemeState(themes, TfidfMatcher(themes), "uploaded")
        with self._upload_lock:
            try:
                with _across_processes(self.data_dir):
                    written = themes.save(self.data_dir / ACTIVE_LIST)
            except OSError as exc:
                logger.error("could not save the theme list to %s: %s", self.data_dir, exc)
                raise StorageError("The server could not save the theme list (disk full or data directory "
                                   "not writable); the previous list stays active.") from None
            self.state, self._version = state, _version(written)
        logger.debug("load...ok")
        return state

    def health(self) -> dict:
        """The model (a forward pass), the active list, and whether ``DATA_DIR`` would take an upload
        (the endpoints answer either way; an upload would be a 507)."""
        state = self.current()
        return {"status": "ok", "process": os.getpid(), "t5": self.t5.health(),
                "theme_list": {"pairs": len(state.themes), "themes": len(state.themes.themes),
                               "stocks": len(state.themes.stocks), "source": state.source},
                "uploads": {"writable": _writable(self.data_dir)}}


def _writable(folder: Path) -> bool:
    """Whether a file could be written in ``folder``, or in the folders an upload would create for it."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False
