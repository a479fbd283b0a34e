"""Group analysed articles by theme, merging near-duplicate theme names. Pure functions, no Flask.

Input: a CSV with one row per article, ``objid`` and ``result`` (what ``/inference``, ``/theme_inference``
or ``/generation`` answered for it). Output: one entry per merged theme, largest first, with the stocks
tied to it and the articles that tie them.

How names merge (see the README, theme_generation, "/clustering"):

1. **Normalisation** gives each name a key: NFKC, lower case, no spaces or punctuation, Sino-Korean
   ordinals written as digits (``이차`` → ``2차``), trade suffixes dropped (``주``, ``관련주``, ``테마`` ...).
   A parenthesis is read three ways: a list of examples (``로봇(산업용/협동로봇 등)``) is dropped; a
   translation in the other script (``카티(CAR-T)``, ``HBM(고대역폭메모리)``) makes both spellings
   aliases; anything else (``2차전지(전고체)``) is a qualifier that keeps the name apart.
2. **Character n-gram TF-IDF with average-linkage agglomerative clustering** over the keys (cosine,
   merge while the average similarity is at least ``threshold``) catches what rules do not (typos, a
   word more or less). Names with different numbers (``24년``/``25년``, ``5G``/``6G``) or different
   qualifiers never merge. Linkage runs inside the connected components of the ``>= threshold``
   similarity graph, which is exact for average linkage and keeps the cost near-linear in the number
   of distinct names.

Why this and not sentence embeddings: the project ships no Korean sentence encoder (nothing may be
downloaded), theme names are short noun phrases whose duplicates differ in spelling rather than in
meaning, and character n-grams are deterministic, explainable and fast (100,000 rows in about a
second, see ``bench/bench_clustering.py``).
"""
from __future__ import annotations

import ast
import csv
import gc
import io
import json
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer

from shared.pairs import NONE
from shared.themes import csv_problem

DEFAULT_THRESHOLD = 0.7
OBJID_COLUMNS = ("objid", "obj_id", "id")
RESULT_COLUMNS = ("result", "results")
MAX_CELL_CHARS = 16 * 1024 * 1024
MAX_REPORTED = 100  # skipped rows listed by number; all of them are counted
# Cells a spreadsheet would run as formulas (=cmd|' /C calc'!A0): refused as in theme lists, since
# clustering answers are often pasted into one. '-' is left alone (negative scores, '-' placeholders).
FORMULA = ("=", "+", "@")
# Control characters (C0, DEL, C1: Unicode's Cc) inside a theme or stock: a NUL or an escape sequence is
# no name, and would show as a theme of its own.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class UploadError(ValueError):
    """The file as a whole cannot be used (not text, no header, a column missing, no readable row)."""


@dataclass
class Skipped:
    line: int  # the CSV line the row starts on, header = 1
    reason: str


@dataclass
class Article:
    line: int
    objid: str
    pairs: list[tuple[str, str]]


@dataclass
class Upload:
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.articles) + len(self.skipped)


# -- large uploads ------------------------------------------------------------------------------

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off while a large upload is read and grouped.

    Reading 100,000 rows makes millions of small objects, none of them in a reference cycle; the
    collector's repeated full passes over them more than doubled the time (measured: 5.9 s -> 2.5 s). Reference
    counting still frees everything. Process-wide, so concurrent callers are counted and the last one
    out restores the previous state.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


# -- reading the CSV ----------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else CP949/EUC-KR as Excel saves Korean CSV, or UTF-16 with its BOM
    (Excel's "Unicode text"), as theme lists are read."""
    if not data.strip():
        raise UploadError("The file is empty: expected a CSV with a header row and the columns objid,result.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UploadError("The file starts like UTF-16 text but is not valid UTF-16: save it as CSV (UTF-8).") from None
    if b"\x00" in data:
        raise UploadError("The file is binary, not a CSV text file: save it as CSV (UTF-8).")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadError("The file is neither UTF-8 nor CP949/EUC-KR text: save it as CSV (UTF-8).")


def _column(header: list[str], accepted: tuple[str, ...], what: str) -> int:
    names = [h.strip().lower() for h in header]
    for name in accepted:
        if name in names:
            if names.count(name) > 1:  # which of the two holds the data is anyone's guess
                raise UploadError(f"The header row names the column '{name}' {names.count(name)} times; "
                                  "keep one.")
            return names.index(name)
    shown = ",".join(header)[:200] or "(empty)"
    raise UploadError(f"The CSV has no '{accepted[0]}' column ({what}). "
                      f"Expected a header row with objid,result; the header read was: {shown}")


def read_upload(data: bytes) -> Upload:
    """Every row read, or skipped with the reason; an ``UploadError`` when nothing can be read."""
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    upload = Upload()
    try:
        header = next(reader, [])
        objid_at = _column(header, OBJID_COLUMNS, "the article id")
        result_at = _column(header, RESULT_COLUMNS, "the JSON list /inference returned for the article")
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                _read_row(line, row, objid_at, result_at, upload)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UploadError(f"Line {reader.line_num}: {csv_problem(exc)}.") from None
    if not upload.rows:
        raise UploadError("The CSV has a header but no rows.")
    if not upload.articles:
        reasons = "; ".join(f"line {s.line}: {s.reason}" for s in upload.skipped[:3])
        raise UploadError(f"No row could be read ({len(upload.skipped)} rows): {reasons}")
    return upload


def _read_row(line: int, row: list[str], objid_at: int, result_at: int, upload: Upload) -> None:
    objid = row[objid_at].strip() if objid_at < len(row) else ""
    cell = row[result_at].strip() if result_at < len(row) else ""
    if not objid:
        upload.skipped.append(Skipped(line, "objid is empty"))
        return
    if objid.startswith(FORMULA):
        upload.skipped.append(Skipped(line, f"objid starts with '{objid[0]}' (a spreadsheet formula?)"))
        return
    if not cell:
        upload.skipped.append(Skipped(line, "result is empty (an article without themes is [])"))
        return
    try:
        upload.articles.append(Article(line, objid, pairs_of(parse_cell(cell))))
    except ValueError as exc:
        upload.skipped.append(Skipped(line, str(exc)))


def parse_cell(cell: str) -> object:
    """JSON, or the Python repr (single quotes) a script may have written with ``str(list)``."""
    try:
        return json.loads(cell)
    except ValueError:
        pass
    except RecursionError:  # [[[[... deeper than the parser's stack
        raise ValueError("result is nested too deeply to be a list of {theme, stock} objects") from None
    if cell[0] in "[{":
        try:
            return ast.literal_eval(cell)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    raise ValueError("result is not JSON")


def pairs_of(value: object, depth: int = 0) -> list[tuple[str, str]]:
    """The (theme, stock) pairs in one result, ``없음`` left out.

    Accepted: a list of ``{theme, stock, ...}`` (``/inference``, ``/t5_inference``), an object with a
    ``result`` list (``/theme_inference``), a list of ``{idx, result, sentence}`` (``/generation``).
    """
    if isinstance(value, dict):
        if not isinstance(value.get("result"), list):
            raise ValueError("result is a JSON object without a 'result' list")
        value = value["result"]
    if not isinstance(value, list):
        raise ValueError(f"result is a JSON {type(value).__name__}, not a list of {{theme, stock}} objects")
    pairs = []
    for item in value:
        if isinstance(item, dict) and "theme" in item and "stock" in item:
            theme, stock = item["theme"], item["stock"]
            if not (isinstance(theme, str) and isinstance(stock, str)) or not theme.strip() or not stock.strip():
                raise ValueError("an entry's theme and stock must be non-empty strings")
            if theme.strip().startswith(FORMULA) or stock.strip().startswith(FORMULA):
                raise ValueError("an entry's theme or stock starts with '=', '+' or '@' (a spreadsheet formula?)")
            if control := _CONTROL.search(theme.strip()) or _CONTROL.search(stock.strip()):
                raise ValueError("an entry's theme or stock contains a control character "
                                 f"(U+{ord(control.group()):04X})")
            if NONE not in (theme.strip(), stock.strip()):
                pairs.append((theme.strip(), stock.strip()))
        elif isinstance(item, dict) and isinstance(item.get("result"), list) and depth == 0:
            pairs.extend(pairs_of(item["result"], depth + 1))
        else:
            raise ValueError("an entry of result has no 'theme' and 'stock'")
    return pairs


# -- merging theme names ------------------------------------------------------------------------

_DROP = re.compile(r"[\s·・/\\\-_.,:;&＆+'\"`~!?]+")
_ORDINAL = re.compile(r"(?<![가-힣])(일|이|삼|사)차")
_ORDINAL_DIGIT = {"일": "1", "이": "2", "삼": "3", "사": "4"}
_SUFFIXES = ("관련주", "테마주", "수혜주", "관련", "테마", "수혜", "주")
_PAREN = re.compile(r"^(?P<head>[^()（）]+)[(（](?P<qual>[^()（）]*)(?:[)）](?P<tail>[^()（）]*))?$")
_HANGUL = re.compile(r"[가-힣ㄱ-ㅎㅏ-ㅣ]")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class NameKey:
    """What a theme name is compared by: its normalised head, a qualifier that keeps it apart, and the
    normalised spelling of a translation in parentheses (an alias of the head)."""

    head: str
    qualifier: str = ""
    alias: str = ""

    @property
    def key(self) -> str:
        return f"{self.head}({self.qualifier})" if self.qualifier else self.head


def _squash(text: str) -> str:
    text = _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())
    return _ORDINAL.sub(lambda m: _ORDINAL_DIGIT[m.group(1)] + "차", text)


def _strip_suffixes(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) - len(suffix) >= 2:
                text, changed = text[: -len(suffix)], True
                break
    return text


def name_key(name: str) -> NameKey:
    """The key of one theme name (see the module docstring)."""
    name = unicodedata.normalize("NFKC", name).strip()
    match = _PAREN.match(name)
    if not match:
        return NameKey(_strip_suffixes(_squash(name)) or _squash(name))
    outside = match["head"] + (match["tail"] or "")  # "HBM(고대역폭메모리) 관련주": the suffix is outside
    head = _strip_suffixes(_squash(outside)) or _squash(outside)
    qual_raw = match["qual"].strip()
    qual = _squash(qual_raw)
    if not qual or qual_raw.endswith("등"):  # "(산업용/협동로봇 등)": examples, not a distinction
        return NameKey(head)
    if bool(_HANGUL.search(match["head"])) != bool(_HANGUL.search(qual_raw)) and "/" not in qual_raw:
        return NameKey(head, alias=_strip_suffixes(qual) or qual)  # "카티(CAR-T)": the same thing, spelled twice
    return NameKey(head, qualifier=qual)


class _UnionFind:
    def __init__(self, items: Iterable[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _compatible(a: NameKey, b: NameKey) -> bool:
    return a.qualifier == b.qualifier and _DIGITS.findall(a.head) == _DIGITS.findall(b.head)


def _similar_groups(keys: list[NameKey], threshold: float, reference: list[str]) -> list[list[int]]:
    """Average-linkage clusters (cosine of char 1-3-gram TF-IDF >= threshold) of more than one key.

    IDF is fitted on the keys and the ``reference`` keys (the active theme list), so that how rare
    an n-gram is does not hinge on the handful of names one upload happens to hold.
    """
    if len(keys) < 2:
        return []
    texts = [k.key for k in keys]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    vectors = vectorizer.fit(texts + reference).transform(texts)
    similar = (vectors @ vectors.T).tocsr()
    similar.data[similar.data < threshold] = 0
    similar.eliminate_zeros()
    count, labels = connected_components(similar, directed=False)
    groups = []
    for component in range(count):
        members = np.flatnonzero(labels == component)
        if len(members) < 2:
            continue
        dense = (vectors[members] @ vectors[members].T).toarray()
        for i, a in enumerate(members):
            for j in range(i + 1, len(members)):
                if not _compatible(keys[a], keys[members[j]]):
                    dense[i, j] = dense[j, i] = 0.0
        distance = np.clip(1.0 - dense, 0.0, 1.0)
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="average")
        for label in np.unique(cluster := fcluster(tree, t=1.0 - threshold + 1e-9, criterion="distance")):
            chosen = members[cluster == label]
            if len(chosen) > 1:
                groups.append(chosen.tolist())
    return groups


def merge_names(counts: Mapping[str, int], threshold: float = DEFAULT_THRESHOLD,
                reference: Iterable[str] = ()) -> dict[str, str]:
    """Each theme name -> the name its group is shown under (the group's most used spelling).

    ``reference`` (the active theme list's names) only informs the n-gram weights; it adds no names.
    """
    keys = {name: name_key(name) for name in counts}
    distinct = sorted({k.key for k in keys.values()})
    groups = _UnionFind(distinct)
    plain = {k.key for k in keys.values() if not k.qualifier}
    reference = list(reference)
    # "카티(CAR-T)" joins a name spelled "CAR-T"; the theme list's "HBM(고대역폭메모리)" joins "HBM" and
    # "고대역폭메모리" even when the upload never spells it with the parenthesis.
    for k in [*keys.values(), *map(name_key, reference)]:
        if k.alias in plain and k.key in plain:
            groups.union(k.key, k.alias)
    key_objects = {k.key: k for k in keys.values()}
    ordered = [key_objects[key] for key in distinct]
    reference_keys = sorted({name_key(n).key for n in reference})
    for members in _similar_groups(ordered, threshold, reference_keys):
        for other in members[1:]:
            groups.union(distinct[members[0]], distinct[other])
    members_of: dict[str, list[str]] = defaultdict(list)
    for name, k in keys.items():
        members_of[groups.find(k.key)].append(name)
    shown = {}
    for names in members_of.values():
        best = min(names, key=lambda n: (-counts[n], len(n), n))
        shown.update((n, best) for n in names)
    return shown


# -- grouping -----------------------------------------------------------------------------------


def cluster(articles: Sequence[Article], threshold: float = DEFAULT_THRESHOLD,
            reference: Iterable[str] = ()) -> list[dict]:
    """Themes largest first; in each, stocks by the number of articles tying them to it.

    A stock's ``count`` is the number of distinct articles (objids) pairing it with the theme, its
    ``objids`` those articles in the order they first appear in the file; a theme's ``count`` is the
    sum over its stocks. A merged theme is shown under its most frequent spelling.
    """
    usage = Counter(theme for article in articles for theme, _ in article.pairs)
    shown = merge_names(usage, threshold, reference)
    merged: dict[str, dict[str, dict[str, None]]] = defaultdict(lambda: defaultdict(dict))
    for article in articles:  # in file order, so each objid list is too
        for theme, stock in article.pairs:
            merged[shown[theme]][stock][article.objid] = None
    return sorted((_theme_entry(theme, stocks) for theme, stocks in merged.items()),
                  key=lambda e: (-e["count"], e["theme"]))


def _theme_entry(theme: str, stocks: dict[str, dict[str, None]]) -> dict:
    companies = [{"stock": stock, "count": len(objids), "objids": list(objids)} for stock, objids in stocks.items()]
    companies.sort(key=lambda c: (-c["count"], c["stock"]))
    return {"theme": theme, "count": sum(c["count"] for c in companies), "companies": companies}
