"""Build the default theme list (``data/themes.csv``) from the Naver Finance theme snapshot.

``theme-build-themes`` reads ``naver_themes_2026/theme_stocks.csv`` and the KRX listing from the
shared data folder and writes one row per theme-stock pair with the stock's KRX code and keywords
that evidence the theme in a text. Keywords come from the theme name itself:
``2차전지(LFP/리튬인산철)`` gives ``2차전지``, ``LFP``, ``리튬인산철``; ``유전자 치료제/분석`` gives
``유전자 치료제``, ``유전자치료제``, ``유전자 분석``, ``유전자``. Words too generic to evidence anything
alone (``분석``, ``수혜주`` ...) are dropped.
"""
from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

from shared.themes import ThemeEntry, ThemeList

GENERIC = {
    "분석", "생산", "수혜", "수혜주", "대표주", "관련", "장비", "부품", "소재", "주요종목", "중소형", "개발",
    "기업", "사업", "정책", "업체", "등", "발표", "지수", "신규상장", "개선", "양적", "질적", "제조", "기술",
    "치료제", "진단", "방지", "주", "대표", "국산화", "충전소", "충전기", "화재", "물리", "정보", "생체인식",
    "온라인", "활용", "저장", "산업용", "하반기", "스마트폰", "제고계획", "등",
}
_SPLIT = re.compile(r"\s*(?:/|,|·|＆|&|\s및\s)\s*")


def theme_keywords(theme: str) -> tuple[str, ...]:
    """Words whose presence in a text evidences ``theme`` (the name itself is always one)."""
    inner = re.findall(r"\(([^()]*)\)", theme)
    head = re.sub(r"\([^()]*\)", "/", theme)
    groups = [_parts(head)] + [_parts(g) for g in inner]
    words: list[str] = []
    for parts in groups:
        lead = parts[0].split() if parts else []
        for i, part in enumerate(parts):
            if i and len(lead) > 1 and " " not in part and part not in GENERIC:
                part = f"{lead[0]} {part}"  # 유전자 치료제/분석 -> 유전자 분석
            words += [part, part.replace(" ", "")]
            first = part.split()[0]
            if " " in part and len(first) >= 2:
                words.append(first)
    keep = [w for w in words
            if len(w) >= 2 and w not in GENERIC and w != theme and not re.match(r"^\d+년?$", w)]
    return tuple(dict.fromkeys(keep))


def _parts(text: str) -> list[str]:
    text = re.sub(r"\s*등$", "", text.strip())
    return [p.strip() for p in _SPLIT.split(text) if p.strip()]


def build(data_dir: Path) -> ThemeList:
    listing = {}
    with open(data_dir / "krx_listing_2025" / "krx_listing.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            listing[row["stock_code"]] = row["stock_name"]
    entries = []
    with open(data_dir / "naver_themes_2026" / "theme_stocks.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["stock_code"]
            stock = listing.get(code, row["stock_name"])  # the KRX name wins where they differ
            entries.append(ThemeEntry(row["theme"], stock, code, theme_keywords(row["theme"])))
    return ThemeList(entries)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("data/themes.csv"))
    args = parser.parse_args(argv)
    themes = build(args.data_dir)
    themes.save(args.out)
    print(f"wrote {args.out}: {len(themes)} pairs, {len(themes.themes)} themes, {len(themes.stocks)} stocks")


if __name__ == "__main__":
    main()
