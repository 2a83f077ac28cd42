"""The message catalogue: every key the pages use exists; formatting, plurals and dates."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from app.web import i18n
from app.web.i18n import MESSAGES, format_date, format_date_range, t
from app.web.templating import NAV_ITEMS

WEB_DIR = Path(i18n.__file__).resolve().parent
# t("key" …) / t('key' …) in templates and Python; also t(… "key" if … else "key", …) branches.
KEY_RE = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
BRANCH_RE = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s+if\s+[^,]+?\s+else\s+["']([a-z0-9_.]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    files = [*WEB_DIR.rglob("*.html"), *(p for p in WEB_DIR.rglob("*.py") if p.name != "i18n.py")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        keys.update(KEY_RE.findall(text))
        for first, second in BRANCH_RE.findall(text):
            keys.update((first, second))
    return keys


def known(key: str) -> bool:
    return key in MESSAGES or (f"{key}.one" in MESSAGES and f"{key}.other" in MESSAGES)


def test_every_key_used_by_the_pages_is_in_the_catalogue():
    keys = used_keys()
    assert len(keys) > 40  # the scan finds the templates' keys (the check is not vacuous)
    assert sorted(k for k in keys if not known(k)) == []


def test_navigation_labels_are_in_the_catalogue():
    assert all(known(item.label_key) for item in NAV_ITEMS)


def test_t_fills_values_and_picks_plural_forms():
    assert t("nav.signed_in_as", name="Ana") == "Signed in as Ana"
    assert t("wall.points", count=1) == "1 point"
    assert t("wall.points", count=3) == "3 points"


def test_t_never_fails_on_unknown_keys_or_missing_values():
    assert t("no.such.key") == "no.such.key"
    assert t("nav.signed_in_as") == "Signed in as {name}"


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2025, 10, 9), date(2025, 10, 9), "9 October 2025"),
        (date(2025, 10, 9), date(2025, 10, 15), "9–15 October 2025"),
        (date(2025, 9, 28), date(2025, 10, 3), "28 September – 3 October 2025"),
        (date(2025, 12, 30), date(2026, 1, 2), "30 December 2025 – 2 January 2026"),
    ],
)
def test_date_ranges_read_naturally(start, end, text):
    assert format_date_range(start, end) == text


def test_dates_use_the_catalogue_month_names():
    assert format_date(date(2026, 2, 1)) == "1 February 2026"
