"""``html_to_text`` on markup beyond the usual status: depth, hidden elements, stray tags, line ends."""

from __future__ import annotations

import pytest

from collectors.mastodon.mapping import html_to_text, map_item


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a<script>alert(1)</script>b<style>p{}</style>c</p>", "abc"),
        ("<template><p>never</p></template>shown", "shown"),
        ("<!-- a comment -->text", "text"),
        ("<ul><li>one</li><li>two</li></ul>after", "one\n\ntwo\n\nafter"),
        ("<blockquote><p>quoted</p></blockquote>reply", "quoted\n\nreply"),
        ("<p>one<p>two", "one\n\ntwo"),
        ("line one\r\nline two", "line one\nline two"),
        ("x</b></span>y", "xy"),  # end tags of elements never opened say nothing
        (
            '<a href="https://s.example/@bo" class="u-url mention">@<span>bo</span></a> '
            '<a href="https://x.org/a/long/path" rel="nofollow"><span class="invisible">https://</span>'
            '<span class="ellipsis">x.org/a/</span><span class="invisible">long/path</span></a>',
            "@bo@s.example https://x.org/a/long/path",
        ),
    ],
)
def test_rendering(html, text):
    assert html_to_text(html, [{"url": "https://s.example/@bo", "acct": "bo@s.example"}]) == text


def test_deeply_nested_markup_maps_without_exhausting_the_stack():
    depth = 20_000
    content = "<span>" * depth + "deep #IUCNcec" + "</span>" * depth
    assert html_to_text(content) == "deep #IUCNcec"
    raw = {
        "id": "1",
        "uri": "https://s.example/users/a/statuses/1",
        "created_at": "2026-01-01T00:00:00Z",
        "account": {"acct": "a@s.example"},
        "content": content,
    }
    assert map_item(raw).tags == ("IUCNcec",)
