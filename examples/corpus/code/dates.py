"""和暦と西暦の変換（令和・平成・昭和）。"""

from __future__ import annotations

import datetime as dt

ERAS = [("令和", dt.date(2019, 5, 1)), ("平成", dt.date(1989, 1, 8)), ("昭和", dt.date(1926, 12, 25))]


def to_wareki(day: dt.date) -> str:
    """西暦の日付を「令和6年」のような和暦の年に変換する。"""
    for name, start in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年"
    raise ValueError(f"{day} は昭和より前の日付です")


def parse_iso(text: str) -> dt.date:
    """YYYY-MM-DD 形式の文字列を日付に変換する。形式が違えば ValueError。"""
    return dt.date.fromisoformat(text.strip())
