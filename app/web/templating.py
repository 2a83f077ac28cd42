"""The Jinja2 environment of the web pages: autoescaping everywhere, filters, static assets, navigation.

Templates live in ``app/web/templates`` and extend ``base.html`` (navigation, skip link, footer) or
``bare.html`` (full screen, e.g. the display wall). In every template:

``t(key, **values)``        a message of the catalogue (``app.web.i18n``)
``csrf_field()``            the hidden ``csrf_token`` input every POST form carries
``static_url(name)``        ``/static/<name>?v=<content hash>`` (cached for a year, busted on change)
``viewer``                  a ``Viewer`` (id, name, role, …) or None when nobody is signed in
``nav``                     the navigation items visible to the viewer
filters                     ``post_html`` (re-sanitises stored post HTML with nh3), ``date``,
                            ``date_range``, ``local_datetime(zone)``, ``money(currency)``, ``points``
                            (thousandths → ``12.345``), ``platform``

Autoescaping is on for every template: never mark text ``|safe`` — go through ``post_html`` for
stored HTML, or build ``Markup`` in Python with ``markupsafe.escape`` for every piece (as
``app.web.charts`` does).
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.web import i18n
from app.web.i18n import t

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# --- post HTML: defence in depth -----------------------------------------------------------------

# Ingest already sanitised post HTML with nh3; the pages clean it again with a stricter list: text
# formatting and links only. No images (the CSP allows images from this site only, and a remote
# image would track the viewer), no attributes beyond a link's href/title, http(s)/mailto only.
POST_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "s", "strong", "ul"}
)
POST_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
POST_URL_SCHEMES = frozenset({"http", "https", "mailto"})
POST_DROPPED_WITH_CONTENT = frozenset({"script", "style", "noscript", "template", "iframe", "object"})


def clean_post_html(html: str | None) -> Markup:
    """Stored post HTML, sanitised again for display (links open safely, nothing executable)."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=set(POST_TAGS),
        clean_content_tags=set(POST_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in POST_ATTRIBUTES.items()},
        url_schemes=set(POST_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )
    return Markup(cleaned)  # nh3's output is the sanitised markup itself


# --- formatting -----------------------------------------------------------------------------------

# ISO 4217 minor units that are not 2 (money is truncated to the currency's minor unit, DESIGN §5).
MINOR_UNITS: Mapping[str, int] = {
    "BHD": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


def format_money(amount: Decimal | None, currency: str | None) -> str:
    """``250.00 CHF`` — truncated to the currency's minor unit; empty when there is no amount."""
    if amount is None:
        return ""
    digits = MINOR_UNITS.get((currency or "").upper(), 2)
    quantum = Decimal(1).scaleb(-digits)
    text = f"{amount.quantize(quantum, rounding=ROUND_DOWN):,}"
    return f"{text} {currency}" if currency else text


def local_datetime(moment: datetime | None, zone: str) -> str:
    """A UTC instant shown in ``zone`` (an event's time zone), e.g. ``1 October 2025, 00:00 GST``."""
    if moment is None:
        return ""
    return i18n.format_datetime(moment.astimezone(ZoneInfo(zone)))


def format_points(thousandths: int) -> str:
    """Integer thousandths of a point as ``12.345`` (exact, no float)."""
    sign = "-" if thousandths < 0 else ""
    whole, fraction = divmod(abs(thousandths), 1000)
    return f"{sign}{whole:,}.{fraction:03d}"


def platform_name(platform: str) -> str:
    return t(f"platform.{platform}") if f"platform.{platform}" in i18n.MESSAGES else platform


# --- static assets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    digest: str


def _media_type(path: Path) -> str:
    known = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    media = known.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{media}; charset=utf-8" if media.startswith("text/") or media.endswith("+xml") else media


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file under ``static/`` by its relative name; served only from this table (no path walk)."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            body = path.read_bytes()
            name = path.relative_to(directory).as_posix()
            assets[name] = Asset(name, body, _media_type(path), hashlib.sha256(body).hexdigest()[:16])
    return assets


ASSETS = load_assets()


def static_url(name: str) -> str:
    """The versioned URL of a static file (a missing file is a bug: fail loudly in tests)."""
    return f"/static/{name}?v={ASSETS[name].digest}"


# --- navigation and the viewer ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at the page — a plain snapshot, safe to use after the database session is gone."""

    id: int
    name: str
    email: str
    role: str
    csrf_token: str

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label_key: str
    roles: frozenset[str] | None = None  # None: everyone; else only signed-in users with these roles

    def visible_to(self, viewer: Viewer | None) -> bool:
        return self.roles is None or (viewer is not None and viewer.role in self.roles)


# Later pages add their entries here (e.g. NavItem("/me", "nav.dashboard", frozenset({"reporter"}))).
NAV_ITEMS: list[NavItem] = [
    NavItem("/events", "nav.events"),
    NavItem("/calendar.ics", "nav.calendar_feed"),
]


# --- the environment --------------------------------------------------------------------------------


@pass_context
def csrf_field(context: Context) -> Markup:
    """The hidden CSRF input of a POST form."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(context["csrf_token"])


def _date(value: date) -> str:
    return i18n.format_date(value)


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(t=t, static_url=static_url, csrf_field=csrf_field)
    env.filters.update(
        post_html=clean_post_html,
        date=_date,
        date_range=i18n.format_date_range,
        local_datetime=local_datetime,
        money=format_money,
        points=format_points,
        platform=platform_name,
        month_name=i18n.month_name,
    )
    return env


ENVIRONMENT = build_environment()


def render_template(name: str, context: Mapping[str, Any]) -> str:
    return ENVIRONMENT.get_template(name).render(context)
