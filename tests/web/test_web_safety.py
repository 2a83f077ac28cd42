"""No open redirects, and stored post HTML is re-sanitised before display (defence in depth)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.web.pages import login_url, safe_next
from app.web.templating import POST_ATTRIBUTES, POST_TAGS, POST_URL_SCHEMES, clean_post_html

SITE = "https://bie.example.org/some/page"


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        " /ok",
        "evil.example",
        "",
        None,
        "/" + "a" * 3000,
    ],
)
def test_unsafe_next_values_fall_back_to_the_default(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/events/wcc2025", "/events?page=2#top", "/me/standing?event=a%2Fb"])
def test_local_paths_are_kept(value):
    assert safe_next(value) == value


@given(st.text(alphabet=st.sampled_from(list("/\\:@.?#%&= \t\nabcEVIL0-_") + ["\x00", "\x7f", "\u3000"])))
def test_safe_next_never_leaves_the_site(value):
    target = safe_next(value)
    assert target == value or target == "/"
    resolved = urlsplit(urljoin(SITE, target))
    assert (resolved.scheme, resolved.netloc) == ("https", "bie.example.org")
    assert target.startswith("/")
    assert not target.startswith("//")
    assert "\\" not in target


def test_login_url_keeps_only_local_next_paths():
    assert login_url("/events/wcc?page=2") == "/login?next=/events/wcc%3Fpage%3D2"
    assert login_url("//evil.example") == "/login"
    assert login_url("/") == "/login"


# --- post HTML ----------------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    "<svg onload=alert(1)><circle/></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(https://evil.example/x)">styled</p>',
    '<a href="https://ok.example" onclick="alert(1)" target="_blank">ok</a>',
    "<style>body{display:none}</style>",
    "<form action=https://evil.example><input name=q></form>",
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    "<!-- <script>alert(1)</script> -->",
    "<object data=x></object><embed src=x>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "<base href=https://evil.example/>",
    "<p>Mangroves <strong>matter</strong></p>",
    "<blockquote>quoted <em>text</em></blockquote>",
    "plain & text < with > brackets",
]


def test_known_attacks_are_neutralised_and_formatting_kept():
    for piece in HOSTILE:
        cleaned = clean_post_html(piece)
        assert not any(name.startswith("on") for _, attrs in elements(cleaned) for name, _ in attrs)
        assert "<script" not in cleaned
        assert "javascript:" not in cleaned.lower()
    cleaned = clean_post_html("".join(HOSTILE[-3:]) + HOSTILE[8])
    assert "<strong>matter</strong>" in cleaned
    assert "<blockquote>" in cleaned
    assert 'href="https://ok.example"' in cleaned
    assert 'rel="noopener noreferrer nofollow ugc"' in cleaned


@given(st.lists(st.sampled_from(HOSTILE) | st.text(max_size=20), max_size=8))
def test_cleaned_html_holds_only_allowed_tags_attributes_and_schemes(pieces):
    cleaned = str(clean_post_html("".join(pieces)))
    for tag, attrs in elements(cleaned):
        assert tag in POST_TAGS
        for name, value in attrs:
            assert name in POST_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
            if name == "href":
                assert urlsplit((value or "").strip()).scheme.lower() in POST_URL_SCHEMES | {""}


def test_empty_html_renders_nothing():
    assert clean_post_html(None) == ""
    assert clean_post_html("") == ""
