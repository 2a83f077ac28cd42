"""Map one Mastodon status (raw JSON) to a ``CollectedPost``; pure, no network.

Decisions:
- ``global_key`` is the status ``uri`` (the same on every server a post federated to). A boost keeps
  its own ``uri`` as key, ``kind=REPOST`` and ``repost_of`` = the boosted status's ``uri``; its text,
  html and tags are the boosted status's (what a timeline shows), its counts its own.
- ``author_key`` is ``mastodon:user@domain``: the domain comes from ``acct`` when it has one, else
  from ``server_domain`` (the server we read from), else from the account's profile URL.
- Missing ``visibility`` is taken as public (tag feeds list only public statuses); an unknown value
  (``local``, ``limited``…) as private, so it never counts by mistake.
- Counts that are not non-negative integers become 0 rather than failing the whole post.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from collectors.base import BadPayload, CollectedPost, Platform, PostKind, Visibility

_VISIBILITIES = {v.value: v for v in Visibility}
_HOST_RE = re.compile(r"^[\w.-]+(?::\d+)?$")
_USER_RE = re.compile(r"^[\w.-]+$")
_HASHTAG_RE = re.compile(r"(?<![\w/])#(\w+)")
# nh3.clean's defaults, built once: building them for every call was half its cost
_SANITISER = nh3.Cleaner()


def map_item(raw: Mapping[str, Any], server_domain: str | None = None) -> CollectedPost:
    """Map one status; raise ``BadPayload`` for anything unmappable, never anything else."""
    try:
        return _map(raw, server_domain)
    except BadPayload:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        raise BadPayload(f"unmappable status: {type(exc).__name__}: {exc}") from exc


def account_key(account: Any, server_domain: str | None = None) -> str:
    """``mastodon:user@domain`` (lower-case) for an account object."""
    if not isinstance(account, Mapping):
        raise BadPayload("account is not an object")
    acct = _text(account.get("acct")) or _text(account.get("username"))
    if not acct:
        raise BadPayload("account has no acct")
    user, _, domain = acct.lstrip("@").partition("@")
    if not domain:
        domain = server_domain or _host(account.get("url")) or ""
    if not user or not domain or not _HOST_RE.match(domain) or not _USER_RE.match(user):
        raise BadPayload(f"cannot build an account key from acct {acct!r}")
    return f"mastodon:{user}@{domain}".lower()


def html_to_text(content: str, mentions: Sequence[Any] = ()) -> str:
    """Plain text of a status: links as their URL, ``#tag``, ``@acct``, breaks as newlines."""
    return _scrubbed_text(_scrub(content), mentions) if content else ""


def _scrubbed_text(content: str, mentions: Sequence[Any]) -> str:
    by_url = {
        m.get("url"): m.get("acct")
        for m in mentions
        if isinstance(m, Mapping) and isinstance(m.get("acct"), str)
    }
    # lexbor (selectolax) parses the status as the HTML standard says, ~6 × faster than html.parser
    return _render(LexborHTMLParser(content, is_fragment=True).root, by_url)


# --- internals ----------------------------------------------------------------------------------


def _map(raw: Mapping[str, Any], server_domain: str | None) -> CollectedPost:
    if not isinstance(raw, Mapping):
        raise BadPayload("status is not an object")
    local_id = _id(raw.get("id"))
    uri = _text(raw.get("uri"))
    if not uri:
        raise BadPayload(f"status {local_id} has no uri")
    created_at = _time(raw.get("created_at"), "created_at")
    edited_at = _time(raw["edited_at"], "edited_at") if raw.get("edited_at") is not None else None
    author = account_key(raw.get("account"), server_domain)
    account = raw["account"]

    reblog = raw.get("reblog")
    kind = PostKind.POST
    repost_of = None
    shown: Mapping[str, Any] = raw  # the status whose content is displayed
    if reblog is not None:
        if not isinstance(reblog, Mapping) or not _text(reblog.get("uri")):
            raise BadPayload(f"status {local_id}: boost without a boosted status uri")
        kind, repost_of, shown = PostKind.REPOST, _text(reblog.get("uri")), reblog
    elif raw.get("quote") is not None or raw.get("quote_id") is not None:
        kind = PostKind.QUOTE
    elif raw.get("in_reply_to_id") is not None:
        kind = PostKind.REPLY

    content = shown.get("content")
    if content is not None and not isinstance(content, str):
        raise BadPayload(f"status {local_id}: content is not a string")
    mentions = shown.get("mentions")
    mentions = mentions if isinstance(mentions, list) else []
    scrubbed = _scrub(content) if content else ""
    text = _scrubbed_text(scrubbed, mentions) if scrubbed else ""
    media = shown.get("media_attachments")

    alias = _profile_alias(account, author)
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=uri,
        local_id=local_id,
        url=_text(raw.get("url")) or None,
        author_key=author,
        author_name=_text(account.get("display_name")) or None,
        created_at=created_at,
        text=text,
        html=_SANITISER.clean(scrubbed) if content else None,
        edited_at=edited_at,
        tags=_tags(shown.get("tags"), text),
        media_count=len(media) if isinstance(media, list) else 0,
        kind=kind,
        visibility=_visibility(raw.get("visibility")),
        likes=_count(raw.get("favourites_count")),
        reposts=_count(raw.get("reblogs_count")),
        replies=_count(raw.get("replies_count")),
        language=_text(raw.get("language")) or None,
        version=(edited_at or created_at).isoformat(),
        repost_of=repost_of,
        author_aliases=(alias,) if alias else (),
        raw=dict(raw),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id(value: Any) -> str:
    # Ids are opaque strings; some servers send numbers. Never interpret them.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload(f"status id {value!r} is not a string")
    text = str(value).strip()
    if not text:
        raise BadPayload("status has an empty id")
    return text


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise BadPayload(f"{name} {value!r} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadPayload(f"{name} {value!r} is not ISO-8601") from exc
    if moment.tzinfo is None:  # Mastodon always sends UTC; a server that omits the zone means it
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def _visibility(value: Any) -> Visibility:
    if value is None:
        return Visibility.PUBLIC
    return _VISIBILITIES.get(value, Visibility.PRIVATE) if isinstance(value, str) else Visibility.PRIVATE


def _host(url: Any) -> str | None:
    return _host_of(url) if isinstance(url, str) else None


@lru_cache(maxsize=4096)
def _host_of(url: str) -> str | None:
    # cached: the same accounts' profile URLs come back on every page (urlsplit is a tenth of a
    # status's mapping)
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host or None


def _profile_alias(account: Mapping[str, Any], author: str) -> str | None:
    """The account as spelt with its profile URL's host, when that differs from its handle's."""
    host = _host(account.get("url"))
    user = author.removeprefix("mastodon:").partition("@")[0]
    if not host or not _HOST_RE.match(host):
        return None
    alias = f"mastodon:{user}@{host}".lower()
    return alias if alias != author else None


def _tags(value: Any, text: str) -> tuple[str, ...]:
    """Platform tags (``tags[].name``) then hashtags of the text not already there (any case)."""
    names: list[str] = []
    if isinstance(value, list):
        names = [
            t["name"].strip()
            for t in value
            if isinstance(t, Mapping) and isinstance(t.get("name"), str) and t["name"].strip()
        ]
    seen = {name.casefold() for name in names}
    for word in _HASHTAG_RE.findall(text):
        if word.casefold() not in seen:
            seen.add(word.casefold())
            names.append(word)
    return tuple(names)


def _scrub(text: str) -> str:
    """Drop what nh3 and the HTML parser cannot take (lone surrogates, NULs)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


_BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN = frozenset({"script", "style", "template"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _render(first: LexborNode | None, mentions: Mapping[Any, Any]) -> str:
    """Render the nodes from ``first`` on (and their descendants) as plain text, the way scoring reads
    them: blocks and breaks as newlines, links by ``_render_link``, nothing of <script>/<style>.

    One loop over the document in order, with an explicit stack of nodes and end tags (a deeply
    nested status must not exhaust Python's recursion limit); it runs for every status collected, so
    the state lives in local variables rather than on an object.
    """
    out: list[str] = []
    emit = out.append
    link: tuple[str, str] | None = None  # (href, class) of the open <a>
    link_text: list[str] = []
    hidden = 0  # depth inside <script>/<style>: never text
    stack: list[LexborNode | str] = [] if first is None else [first]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, str):  # an end tag
            if item in _HIDDEN:
                hidden = max(0, hidden - 1)
            elif item == "a" and link is not None:
                emit(_render_link(link[0], link[1], "".join(link_text).strip(), mentions))
                link = None
            elif item in _BLOCKS and out and not "".join(out[-2:]).endswith("\n\n"):
                emit("\n\n")
            continue
        following = item.next
        if following is not None:
            push(following)
        tag = item.tag or ""
        if tag == "-text":
            if not hidden:
                if link is not None:
                    link_text.append(item.text_content or "")
                else:
                    emit(item.text_content or "")
        elif not tag.startswith(("-", "_", "#")):  # an element (comments and the like say nothing)
            if tag in _HIDDEN:
                hidden += 1
            elif tag == "br":
                emit("\n")
            elif tag in _BLOCKS:
                if out and not "".join(out[-2:]).endswith("\n\n"):
                    emit("\n\n")
            elif tag == "a" and link is None:
                values = item.attributes
                link = ((values.get("href") or "").strip(), values.get("class") or "")
                link_text = []
            push(tag)
            child = item.child
            if child is not None:
                push(child)
    if link is not None:  # an <a> never closed: keep what it said
        emit(_render_link(link[0], link[1], "".join(link_text).strip(), mentions))
    lines = [line.strip() for line in _SPACES.sub(" ", "".join(out)).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _render_link(href: str, classes: str, label: str, mentions: Mapping[Any, Any]) -> str:
    words = classes.split()
    if "hashtag" in words or (label.startswith("#") and "mention" in words):
        return "#" + label.lstrip("#") if label.lstrip("#") else ""
    if "mention" in words or label.startswith("@"):
        acct = mentions.get(href)
        return "@" + (acct if isinstance(acct, str) and acct else label.lstrip("@"))
    if not href.lower().startswith(("http://", "https://")):
        return label
    shown = label.replace("…", "").replace("...", "").strip()
    if not shown or shown.lower().startswith(("http://", "https://")) or shown in href:
        return href
    return f"{label} {href}"
