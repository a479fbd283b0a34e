"""The active theme list: which stocks belong to which investment themes.

A theme list is a CSV with a header row. Columns (English or Korean header names):

| column   | also accepted      | required | meaning                                                  |
|----------|--------------------|----------|----------------------------------------------------------|
| theme    | 테마, 테마명        | yes      | theme name, e.g. ``유전자 치료제/분석``                    |
| stock    | 종목, 종목명        | yes      | listed company name, e.g. ``툴젠``                          |
| code     | 종목코드, 코드      | no       | 6-character KRX code, e.g. ``199800``                      |
| keywords | 키워드             | no       | ``|``-separated words that evidence the theme in a text    |
| aliases  | 별칭               | no       | ``|``-separated other names of the stock (``카뱅``)        |
| business |                    | no       | ``|``-separated words of the theme's business (``식품``)   |

``business`` words are weaker evidence than ``keywords``: what the theme's companies make or do, as
their own overviews write it (the default list's are mined by ``theme-build-themes``). They evidence
the theme only for a stock an article is about whose keywords it does not write
(``shared.candidates``): 삼양식품 in a story on 불닭 ramen sales, which never writes 음식료.

Files may be UTF-8 (with or without BOM) or CP949/EUC-KR, as Excel writes them for Korean.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shared.errors import BadUpload

COLUMNS = {
    "theme": ("theme", "테마", "테마명"),
    "stock": ("stock", "종목", "종목명", "stock_name"),
    "code": ("code", "종목코드", "코드", "stock_code"),
    "keywords": ("keywords", "키워드"),
    "aliases": ("aliases", "별칭"),
    "business": ("business",),  # not 사업: a list's free-text description column may be called that
}
REQUIRED = ("theme", "stock")
MAX_CELL_CHARS = 200
MAX_ROWS = 200_000
# A KRX short code: six digits, or a digit and five digits or capitals (preferred and new-type shares,
# ``00104K``, ``0008Z0``). A spreadsheet drops the leading zeros of an all-digit one (``5930``): refilled.
_CODE = re.compile(r"^[0-9][0-9A-Z]{5}$")
_FORMULA = ("=", "+", "@")  # spreadsheet formula injection; '-' is left alone (e.g. '-' placeholders)


@dataclass(frozen=True)
class ThemeEntry:
    theme: str
    stock: str
    code: str = ""
    keywords: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    business: tuple[str, ...] = ()


def terms_pattern(terms) -> re.Pattern | None:
    """One regex that finds any of ``terms``, the longest at each position (as an alternation ordered
    longest first would), compiled from a character trie: ``삼성|삼성전자|삼성SDI`` becomes
    ``삼성(?:전자|SDI)?``. With thousands of names, the plain alternation tries every name at every
    position; the trie tries one branch per character, many times faster."""
    trie: dict = {}
    for term in terms:
        if term:
            node = trie
            for ch in term:
                node = node.setdefault(ch, {})
            node[""] = {}
    return re.compile(_trie_regex(trie)) if trie else None


def _trie_regex(node: dict) -> str:
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:  # a term ends here: the longer ones are tried first, greedily
        return f"(?:{body})?"
    return body


_LATIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")


class TermCounter:
    """Counts non-overlapping occurrences of many terms in a text, longest term first. An ``ignored``
    word is matched like a term and not counted: the terms inside it are not there (``방산`` in
    ``전방산업``). With ``whole_latin``, a term's Latin letters at either end must not go on into
    more Latin letters, nor, in a term with Latin letters, its digits into more digits (``VR`` is not
    in ``CVR``, ``LED`` in ``OLED`` nor ``5G`` in ``25G``; ``HBM`` is in ``HBM3E``, ``AI`` in ``AI가``
    and ``24년`` in ``2024년``)."""

    def __init__(self, terms: set[str], ignored: Iterable[str] = (), whole_latin: bool = False) -> None:
        self._ignored = frozenset(ignored) - terms
        self._pattern = terms_pattern(terms | self._ignored)
        self._whole_latin = whole_latin
        self._latin_terms = frozenset(t for t in terms if any(c in _LATIN for c in t))  # digits bound them too

    def count(self, text: str) -> Counter[str]:
        if not self._pattern:
            return Counter()
        if self._whole_latin:  # checked after the search: a lookaround in the pattern made it 2-5x slower
            found = Counter(m.group() for m in self._pattern.finditer(text)
                            if self._whole(text, m.start(), m.end(), m.group() in self._latin_terms))
        else:
            found = Counter(self._pattern.findall(text))
        for word in self._ignored & found.keys():
            del found[word]
        return found

    @staticmethod
    def _whole(text: str, start: int, end: int, latin_term: bool) -> bool:
        """No Latin letter continues the match's Latin letters on either side; in a term with Latin
        letters, no digit its digits either (``5G`` is not in ``25G``, while ``24년 …`` is in ``2024년 …``)."""
        kinds = (_LATIN, _DIGITS) if latin_term else (_LATIN,)
        return not (start and any(text[start] in k and text[start - 1] in k for k in kinds)
                    or end < len(text) and any(text[end - 1] in k and text[end] in k for k in kinds))


class ThemeList:
    """An immutable theme list; a new upload builds a new object, so readers never see a mix."""

    def __init__(self, entries: list[ThemeEntry]) -> None:
        self.entries = tuple(dict.fromkeys(entries))
        self.themes_of: dict[str, list[str]] = defaultdict(list)
        self.keywords: dict[str, set[str]] = defaultdict(set)
        self.aliases: dict[str, set[str]] = defaultdict(set)
        self.business: dict[str, set[str]] = defaultdict(set)
        for e in self.entries:
            if e.theme not in self.themes_of[e.stock]:
                self.themes_of[e.stock].append(e.theme)
            self.keywords[e.theme].update((e.theme, *e.keywords))
            self.aliases[e.stock].update((e.stock, *e.aliases))
            self.business[e.theme].update(e.business)
        self.themes = tuple(dict.fromkeys(e.theme for e in self.entries))
        self.stocks = tuple(self.themes_of)
        self.codes = {e.stock: e.code for e in self.entries if e.code}

    def __len__(self) -> int:
        return len(self.entries)

    # -- reading and writing -------------------------------------------------------------------

    @classmethod
    def from_csv_bytes(cls, data: bytes) -> "ThemeList":
        """Parse an uploaded file; a ``BadUpload`` names the row or column that is wrong."""
        return cls(_parse_rows(_decode(data)))

    @classmethod
    def load(cls, path: str | Path) -> "ThemeList":
        return cls.from_csv_bytes(Path(path).read_bytes())

    def to_csv_bytes(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["theme", "stock", "code", "keywords", "aliases", "business"])
        for e in self.entries:
            writer.writerow([e.theme, e.stock, e.code, *("|".join(w) for w in (e.keywords, e.aliases, e.business))])
        return out.getvalue().encode("utf-8")

    def save(self, path: str | Path) -> os.stat_result:
        """Write atomically: a temp file in the same folder, fsync, then rename over the old one. Returns
        the written file's ``stat`` (the rename keeps its inode, mtime and size)."""
        return write_atomic(Path(path), self.to_csv_bytes())


def write_atomic(path: Path, data: bytes) -> os.stat_result:
    """Replace ``path`` by ``data`` whole; the new file's ``stat``, taken before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            written = os.fstat(f.fileno())
        os.replace(tmp, path)
        return written
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _decode(data: bytes) -> str:
    if not data.strip():
        raise BadUpload("The file is empty: expected a CSV theme list with a header row (theme,stock,...).")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte order mark (Excel's "Unicode text")
        try:
            return unicodedata.normalize("NFC", data.decode("utf-16"))
        except UnicodeDecodeError:
            raise BadUpload("The file starts like UTF-16 text but is not valid UTF-16; save it as CSV (UTF-8).") from None
    if b"\x00" in data:
        raise BadUpload("The file is binary, not a CSV text file.")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return unicodedata.normalize("NFC", text)  # as the text endpoints read articles (shared.api)
    raise BadUpload("The file is neither UTF-8 nor CP949/EUC-KR text; save it as CSV (UTF-8).")


def csv_problem(error: csv.Error) -> str:
    """What a ``csv.Error`` means, in words for the person who made the file (the lenient reader
    raises little else than the cell size limit; NUL bytes are refused before parsing)."""
    if "field larger than field limit" in str(error):
        return f"a cell is longer than {csv.field_size_limit()} characters"
    return f"not valid CSV ({error})"


def _header_map(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for column, accepted in COLUMNS.items():
        hits = [i for i, n in enumerate(names) if n in accepted]
        if len(hits) > 1:
            raise BadUpload(f"Header row: column '{column}' appears {len(hits)} times.")
        if hits:
            found[column] = hits[0]
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        wanted = "; ".join(f"'{c}' (or {', '.join(COLUMNS[c][1:])})" for c in missing)
        raise BadUpload(f"Header row: missing column {wanted}. The header read was: {','.join(header)[:200]}")
    return found


def _parse_rows(text: str) -> list[ThemeEntry]:
    """Rows of a comma-separated list, or a tab-separated one (a header with tabs and no comma, as
    spreadsheets export "Unicode text"); blank lines are skipped, before the header too."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), [])
        columns = _header_map(header)
        entries = []
        start = reader.line_num + 1  # the line a record starts on (a quoted cell may span lines)
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(entries) >= MAX_ROWS:
                raise BadUpload(f"Too many rows: at most {MAX_ROWS} theme-stock pairs per list.")
            entries.append(_entry(line, row, columns, len(header)))
    except csv.Error as exc:
        raise BadUpload(f"Row {reader.line_num}: {csv_problem(exc)}.") from None
    if not entries:
        raise BadUpload("The file has a header but no theme-stock rows.")
    return entries


def _entry(line: int, row: list[str], columns: dict[str, int], width: int) -> ThemeEntry:
    if len(row) > width:
        raise BadUpload(f"Row {line}: {len(row)} fields, but the header has {width}.")
    cells = {c: (row[i].strip() if i < len(row) else "") for c, i in columns.items()}
    for column, value in cells.items():
        if "\n" in value or "\r" in value:
            raise BadUpload(f"Row {line}: column '{column}' runs over several lines: a quote (\") left open?")
    for column in REQUIRED:
        if not cells[column]:
            raise BadUpload(f"Row {line}: column '{column}' is empty.")
    for column, value in cells.items():
        if len(value) > MAX_CELL_CHARS:
            raise BadUpload(f"Row {line}: column '{column}' is longer than {MAX_CELL_CHARS} characters.")
        if value.startswith(_FORMULA):
            raise BadUpload(f"Row {line}: column '{column}' starts with '{value[0]}' (a spreadsheet formula?).")
    cell = cells.get("code", "")
    code = cell.zfill(6) if cell.isascii() and cell.isdigit() else cell
    if code and not _CODE.match(code):
        raise BadUpload(f"Row {line}: column 'code' is '{cell}', not a 6-character KRX code.")
    split = lambda v: tuple(dict.fromkeys(p.strip() for p in v.split("|") if p.strip()))  # noqa: E731
    return ThemeEntry(cells["theme"], cells["stock"], code,
                      split(cells.get("keywords", "")), split(cells.get("aliases", "")),
                      split(cells.get("business", "")))
