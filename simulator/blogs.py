"""Simulated blog sites serving RSS 2.0 and Atom feeds and article pages.

Mount with ``Simulator.add("/blogs", BlogSim(...))``; each site then lives under
``/blogs/{site}/``:

    /blogs/{site}/                               index page (HTML, alternate feed links); ?p=N
                                                 redirects (301) to article N, as WordPress does
    /blogs/{site}/feed/                          WordPress site feed (RSS 2.0)
    /blogs/{site}/author/{author}/feed/          WordPress per-author feed (RSS 2.0)
    /blogs/{site}/tag/{slug}/feed/               WordPress tag feed (RSS 2.0)
    /blogs/{site}/tag/{slug}/rss/                Ghost tag feed (RSS 2.0, isPermaLink=false guids)
    /blogs/{site}/feeds/posts/default            Blogger feed (Atom)
    /blogs/{site}/feeds/posts/default/-/{label}  Blogger label feed (Atom)
    /blogs/{site}/atom.xml                       plain Atom feed
    /blogs/{site}/{yyyy}/{mm}/{slug}/            article page (HTML; 404 or 410 once deleted)

Feeds hold the latest ``feed_size`` entries (by publication), answer conditional GETs with 304
(ETag and Last-Modified) and pick up the ``shuffle`` / ``duplicate`` fault knobs. Tag and label
slugs match categories case-insensitively. Even-numbered sites add ``utm_*`` parameters and a
``#more`` fragment to feed links, as WordPress plugins do. About a fifth of the articles have no
guid/id, so their key is their normalised link (which contains the server's host and port: the
simulator learns it from the requests it serves, or from ``base_url``).

Ground truth: the keys (guid/id, else the normalised link without trailing slash) of the live
articles carrying a followed tag (``followed_tags``, case-insensitive) that have appeared in at
least one feed's window.
"""

from __future__ import annotations

import hashlib
import html
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from simulator.core import ASGIApp, RateLimitStyle, current_faults
from simulator.world import CLOSERS, EVENT_TAGS, PROGRAMME_TAGS, TOPICS, Person, SimClock, people

SITE_NAMES = [
    "mangrove-notes",
    "wild-voices",
    "ranger-diaries",
    "green-desk",
    "reef-journal",
    "youth-for-nature",
]
GENERIC_CATEGORIES = ["Conservation", "Events", "Travel", "Biodiversity", "Oceans", "Youth"]
AUTHORS_PER_SITE = 4


@dataclass
class Article:
    number: int
    site: str
    author: Person
    slug: str
    title: str
    body_html: str
    categories: list[str]
    published: datetime
    updated: datetime
    has_id: bool
    images: int
    enclosure: bool
    status: int = 200  # 200 live; 404 or 410 once deleted

    @property
    def guid(self) -> str:
        return f"https://{self.site}.blogs.example.org/?p={self.number}"

    @property
    def path(self) -> str:
        return f"/{self.site}/{self.published:%Y}/{self.published:%m}/{self.slug}/"


@dataclass
class _Site:
    name: str
    index: int
    authors: list[Person]
    articles: list[Article] = field(default_factory=list)


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class BlogSim:
    """Several blog sites with RSS/Atom feeds, article pages, updates and deletions."""

    style: RateLimitStyle = "none"

    def __init__(
        self,
        seed: int = 0,
        sites: int = 2,
        articles: int = 40,
        clock: SimClock | None = None,
        *,
        feed_size: int = 10,
        followed_tags: tuple[str, ...] = ("iucncec", "NatureForAll"),
        base_url: str | None = None,
        article_interval_s: float = 600.0,
    ) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(f"blogs-{seed}")
        self._owns_clock = clock is None
        self.clock = clock or SimClock()
        self.feed_size = feed_size
        self.followed = {t.casefold() for t in followed_tags}
        self.base_url = base_url.rstrip("/") if base_url else None
        self.article_interval_s = article_interval_s
        persons = people(seed)
        self.sites: dict[str, _Site] = {}
        for i in range(sites):
            name = SITE_NAMES[i % len(SITE_NAMES)] + ("" if i < len(SITE_NAMES) else f"-{i}")
            authors = [persons[(i * AUTHORS_PER_SITE + j) % len(persons)] for j in range(AUTHORS_PER_SITE)]
            self.sites[name] = _Site(name=name, index=i, authors=authors)
        self.articles: dict[int, Article] = {}
        self._exposed: set[int] = set()
        self._pending_s = 0.0
        start = self.clock.now() - timedelta(days=10)
        span = timedelta(days=10) / max(1, articles)
        for n in range(articles):
            self._create(published=start + span * n + timedelta(seconds=self._rng.randrange(60)))
        self._expose()

    # --- world changes --------------------------------------------------------------------------

    def _create(
        self,
        *,
        published: datetime,
        site: str | None = None,
        tagged: bool | None = None,
        has_id: bool | None = None,
    ) -> Article:
        rng = self._rng
        number = len(self.articles) + 1
        site_obj = self.sites[site] if site else rng.choice(list(self.sites.values()))
        author = rng.choice(site_obj.authors)
        topic = rng.choice(TOPICS)
        tagged = rng.random() < 0.8 if tagged is None else tagged
        categories = [rng.choice(GENERIC_CATEGORIES)]
        if tagged:
            categories.append(rng.choice(PROGRAMME_TAGS))
            if rng.random() < 0.4:
                categories.append(rng.choice(PROGRAMME_TAGS))
        if rng.random() < 0.5:
            categories.append(rng.choice(EVENT_TAGS))
        categories = list(dict.fromkeys(categories))
        images = rng.choice([0, 1, 1, 2, 3])
        slug = "-".join(topic.lower().replace(":", "").replace(",", "").split()[:6]) + f"-{number}"
        article = Article(
            number=number,
            site=site_obj.name,
            author=author,
            slug=slug,
            title=f"{rng.choice(['Day 1', 'Day 2', 'Notes', 'Dispatch', 'Report'])}: {topic}",
            body_html=self._body(rng, topic, categories, images, site_obj.name, number),
            categories=categories,
            published=published,
            updated=published,
            has_id=rng.random() >= 0.2 if has_id is None else has_id,
            images=images,
            enclosure=rng.random() < 0.3,
        )
        self.articles[number] = article
        site_obj.articles.append(article)
        return article

    @staticmethod
    def _body(
        rng: random.Random, topic: str, categories: list[str], images: int, site: str, number: int
    ) -> str:
        parts = [f"<p>{html.escape(topic)}. {html.escape(rng.choice(CLOSERS))}</p>"]
        for i in range(images):
            parts.append(
                f'<figure><img src="https://{site}.blogs.example.org/uploads/{number}-{i}'
                f'.jpg" alt="Photo {i + 1}"><figcaption>Photo {i + 1}</figcaption></figure>'
            )
        story = rng.randrange(10**6)
        parts.append(
            f'<p>Read <a href="https://news.example.org/story/{story}?utm_source=blog">'
            f"the full report</a> and see https://www.iucn.org/commissions/cec for more."
            "</p>"
        )
        programme = [c for c in categories if c in PROGRAMME_TAGS]
        if programme:
            links = " ".join(
                f'<a href="https://{site}.blogs.example.org/tag/{t.lower()}/">#{t}</a>' for t in programme
            )
            parts.append(f"<p>{links}</p>")
        if rng.random() < 0.15:
            parts.append(
                "<script>alert('owned')</script>"
                '<img src="x.png" onerror="alert(document.cookie)">'
                '<a href="javascript:alert(1)">click</a>'
            )
        return "\n".join(parts)

    def _window(self, articles: list[Article]) -> list[Article]:
        live = [a for a in articles if a.status == 200]
        live.sort(key=lambda a: (a.published, a.number), reverse=True)
        return live[: self.feed_size]

    def _expose(self) -> None:
        """Record every live article currently inside at least one feed's window."""
        for site in self.sites.values():
            groups: list[list[Article]] = [site.articles]
            for author in site.authors:
                groups.append([a for a in site.articles if a.author.index == author.index])
            tags = {c.casefold() for a in site.articles for c in a.categories}
            for tag in tags:
                groups.append([a for a in site.articles if tag in {c.casefold() for c in a.categories}])
            for group in groups:
                self._exposed.update(a.number for a in self._window(group))

    def add_article(self, *, site: str | None = None, tagged: bool = True, has_id: bool = True) -> Article:
        """Publish a new article now."""
        with self._lock:
            article = self._create(published=self.clock.now(), site=site, tagged=tagged, has_id=has_id)
            self._expose()
            return article

    def update_article(self, number: int, *, categories: list[str] | None = None) -> Article:
        """Edit an article: new paragraph, new ``updated`` time, optionally new categories."""
        with self._lock:
            article = self.articles[number]
            article.updated = max(self.clock.now(), article.updated + timedelta(seconds=1))
            article.body_html += f"\n<p>Update {_iso(article.updated)}: more photos soon.</p>"
            if categories is not None:
                article.categories = categories
            self._expose()
            return article

    def delete_article(self, number: int, status: int = 410) -> None:
        """Delete an article: its page answers ``status`` and it leaves every feed."""
        with self._lock:
            self.articles[number].status = status
            self._expose()

    def tick(self, seconds: float) -> None:
        """Let time pass: new articles every ``article_interval_s``, some edits and deletions."""
        with self._lock:
            if self._owns_clock:
                self.clock.advance(seconds)
            self._pending_s += seconds
            while self._pending_s >= self.article_interval_s:
                self._pending_s -= self.article_interval_s
                self._create(published=self.clock.now())
                live = [a for a in self.articles.values() if a.status == 200]
                if live and self._rng.random() < 0.2:
                    target = self._rng.choice(live)
                    target.updated = self.clock.now()
                    target.body_html += "\n<p>Updated with new photos.</p>"
                if live and self._rng.random() < 0.05:
                    self._rng.choice(live).status = self._rng.choice([404, 410])
            self._expose()

    # --- truth ----------------------------------------------------------------------------------

    def key_of(self, article: Article, base: str | None = None) -> str:
        """The global key a correct collector gives this article."""
        if article.has_id:
            return article.guid
        root = (base or self.base_url or "http://unknown-host/blogs").rstrip("/")
        return f"{root}{article.path}".rstrip("/")

    def truth(self) -> set[str]:
        with self._lock:
            return {
                self.key_of(a)
                for a in self.articles.values()
                if a.status == 200
                and a.number in self._exposed
                and {c.casefold() for c in a.categories} & self.followed
            }

    def feed_paths(self) -> list[str]:
        """Every feed path (relative to the mount point) a collector may follow."""
        paths: list[str] = []
        for site in self.sites.values():
            paths += [f"/{site.name}/feed/", f"/{site.name}/atom.xml", f"/{site.name}/feeds/posts/default"]
            paths += [f"/{site.name}/author/{p.blog_slug}/feed/" for p in site.authors]
            for tag in sorted({t.casefold() for t in self.followed}):
                paths += [
                    f"/{site.name}/tag/{tag}/feed/",
                    f"/{site.name}/tag/{tag}/rss/",
                    f"/{site.name}/feeds/posts/default/-/{tag}",
                ]
        return paths

    # --- HTTP -----------------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        routes = [
            Route("/{site}/", self._index),
            Route("/{site}/feed/", self._site_feed),
            Route("/{site}/author/{author}/feed/", self._author_feed),
            Route("/{site}/tag/{tag}/feed/", self._tag_feed),
            Route("/{site}/tag/{tag}/rss/", self._ghost_feed),
            Route("/{site}/feeds/posts/default", self._blogger_feed),
            Route("/{site}/feeds/posts/default/-/{label}", self._blogger_feed),
            Route("/{site}/atom.xml", self._atom_feed),
            Route("/{site}/{year:int}/{month:int}/{slug}/", self._article),
        ]
        app: ASGIApp = Starlette(routes=routes)
        return app

    def _base(self, request: Request) -> str:
        root = request.scope.get("root_path", "")
        host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
        base = f"{request.url.scheme}://{host}{root}".rstrip("/")
        if self.base_url is None:
            self.base_url = base
        return base

    def _site(self, request: Request) -> _Site | None:
        return self.sites.get(request.path_params["site"])

    def _link(self, article: Article, base: str, *, tracking: bool) -> str:
        link = f"{base}{article.path}"
        if tracking and self.sites[article.site].index % 2 == 0:
            link += f"?utm_source=rss&utm_medium=rss&utm_campaign={article.slug[:20]}#more"
        return link

    def _select(self, request: Request, entries: list[Article]) -> list[Article]:
        window = self._window(entries)
        faults, rng = current_faults(request.scope)
        if faults.shuffle and rng.random() < faults.shuffle:
            rng.shuffle(window)
        if window and faults.duplicate and rng.random() < faults.duplicate:
            window.insert(rng.randrange(len(window) + 1), rng.choice(window))
        return window

    def _respond(self, request: Request, body: str, entries: list[Article], media_type: str) -> Response:
        data = body.encode("utf-8")
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        newest = max((a.updated for a in entries), default=self.clock.now() - timedelta(days=30))
        last_modified = _http_date(newest)
        headers = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": "max-age=300"}
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            if etag in [t.strip() for t in if_none_match.split(",")] or if_none_match == "*":
                return Response(status_code=304, headers=headers)
        elif since := request.headers.get("if-modified-since"):
            try:
                if newest.replace(microsecond=0) <= parsedate_to_datetime(since):
                    return Response(status_code=304, headers=headers)
            except (TypeError, ValueError, IndexError):
                pass
        return Response(data, media_type=media_type, headers=headers)

    # feeds

    def _rss(
        self, request: Request, site: _Site, entries: list[Article], *, title: str, ghost: bool = False
    ) -> Response:
        base = self._base(request)
        items = []
        for a in entries:
            guid = ""
            if a.has_id:
                guid = f'<guid isPermaLink="false">{xml_escape(a.guid)}</guid>'
            categories = "".join(f"<category><![CDATA[{c}]]></category>" for c in a.categories)
            enclosure = ""
            if a.enclosure:
                enclosure = (
                    f'<enclosure url="https://{a.site}.blogs.example.org/uploads/'
                    f'{a.number}-cover.jpg" length="48213" type="image/jpeg"/>'
                )
            excerpt = xml_escape(f"<p>{html.escape(a.title)} [&#8230;]</p>")
            creator = f"<dc:creator><![CDATA[{a.author.name}]]></dc:creator>"
            items.append(
                f"<item><title>{xml_escape(a.title)}</title>"
                f"<link>{xml_escape(self._link(a, base, tracking=not ghost))}</link>"
                f"{creator}<pubDate>{_http_date(a.published)}</pubDate>{categories}{guid}"
                f"<description>{excerpt}</description>"
                f"<content:encoded><![CDATA[{a.body_html}]]></content:encoded>{enclosure}</item>"
            )
        newest = max((a.updated for a in entries), default=self.clock.now())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>{xml_escape(title)}</title>"
            f"<link>{base}/{site.name}/</link><description>Conservation stories</description>"
            f"<language>en-GB</language><lastBuildDate>{_http_date(newest)}</lastBuildDate>"
            f"<generator>{'Ghost 5.82' if ghost else 'https://wordpress.org/?v=6.6'}</generator>"
            + "".join(items)
            + "</channel></rss>"
        )
        return self._respond(request, body, entries, "application/rss+xml; charset=UTF-8")

    def _atom(self, request: Request, site: _Site, entries: list[Article], *, title: str) -> Response:
        base = self._base(request)
        items = []
        for a in entries:
            entry_id = f"<id>{xml_escape(a.guid)}</id>" if a.has_id else ""
            categories = "".join(f"<category term={quoteattr(c)}/>" for c in a.categories)
            items.append(
                f'<entry>{entry_id}<title type="text">{xml_escape(a.title)}</title>'
                f'<link rel="alternate" type="text/html" '
                f"href={quoteattr(self._link(a, base, tracking=True))}/>"
                f"<published>{_iso(a.published)}</published><updated>{_iso(a.updated)}</updated>"
                f"<author><name>{xml_escape(a.author.name)}</name></author>{categories}"
                f'<content type="html">{xml_escape(a.body_html)}</content></entry>'
            )
        newest = max((a.updated for a in entries), default=self.clock.now())
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
            f"<title>{xml_escape(title)}</title><id>tag:{site.name}.blogs.example.org,2025:feed</id>"
            f'<link rel="alternate" href="{base}/{site.name}/"/>'
            f"<updated>{_iso(newest)}</updated>" + "".join(items) + "</feed>"
        )
        return self._respond(request, body, entries, "application/atom+xml; charset=utf-8")

    async def _site_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            return self._rss(request, site, self._select(request, site.articles), title=site.name)

    async def _author_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            slug = request.path_params["author"]
            if site is None or slug not in {p.blog_slug for p in site.authors}:
                return Response("no such author", status_code=404)
            entries = [a for a in site.articles if a.author.blog_slug == slug]
            return self._rss(request, site, self._select(request, entries), title=f"{site.name} – {slug}")

    def _tagged(self, site: _Site, tag: str) -> list[Article]:
        folded = tag.casefold()
        return [a for a in site.articles if folded in {c.casefold() for c in a.categories}]

    async def _tag_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            tag = request.path_params["tag"]
            return self._rss(
                request, site, self._select(request, self._tagged(site, tag)), title=f"{site.name} – #{tag}"
            )

    async def _ghost_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            tag = request.path_params["tag"]
            return self._rss(
                request,
                site,
                self._select(request, self._tagged(site, tag)),
                title=f"{site.name} – {tag}",
                ghost=True,
            )

    async def _blogger_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            label = request.path_params.get("label")
            entries = self._tagged(site, label) if label else site.articles
            return self._atom(request, site, self._select(request, entries), title=f"{site.name} (Blogger)")

    async def _atom_feed(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            return self._atom(request, site, self._select(request, site.articles), title=site.name)

    # pages

    async def _index(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            if site is None:
                return Response("no such blog", status_code=404)
            base = self._base(request)
            number = request.query_params.get("p", "")
            if number.isdigit():
                article = self.articles.get(int(number))
                if article is None or article.site != site.name:
                    return Response("not found", status_code=404)
                return RedirectResponse(f"{base}{article.path}", status_code=301)
            body = (
                f"<!doctype html><html><head><title>{site.name}</title>"
                f'<link rel="alternate" type="application/rss+xml" '
                f'href="{base}/{site.name}/feed/"></head><body><h1>{site.name}</h1>'
                "</body></html>"
            )
            return Response(body, media_type="text/html; charset=utf-8")

    async def _article(self, request: Request) -> Response:
        with self._lock:
            site = self._site(request)
            slug = request.path_params["slug"]
            article = next((a for a in site.articles if a.slug == slug), None) if site else None
            if article is None:
                return Response(
                    "<html><body><h1>Not found</h1></body></html>", status_code=404, media_type="text/html"
                )
            if article.status != 200:
                return Response(
                    "<html><body><h1>Gone</h1></body></html>",
                    status_code=article.status,
                    media_type="text/html",
                )
            base = self._base(request)
            url = f"{base}{article.path}"
            feed = f"{base}/{site.name}/author/{article.author.blog_slug}/feed/" if site else ""
            tags = "".join(
                f'<meta property="article:tag" content={quoteattr(c)}>' for c in article.categories
            )
            body = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(article.title)} – {article.site}</title>"
                f'<link rel="canonical" href="{url}">'
                f'<link rel="alternate" type="application/rss+xml" href="{feed}">'
                f'<link rel="shortlink" href="{article.guid}">'
                f'<meta property="og:type" content="article">'
                f'<meta property="og:title" content={quoteattr(article.title)}>'
                f'<meta property="og:url" content="{url}">'
                f'<meta property="article:published_time" content="{_iso(article.published)}">'
                f'<meta property="article:modified_time" content="{_iso(article.updated)}">'
                f'{tags}<meta name="author" content={quoteattr(article.author.name)}>'
                '</head><body><header><nav><a href="/">Home</a></nav></header>'
                f"<article><h1>{html.escape(article.title)}</h1>{article.body_html}</article>"
                "<footer>Comments are closed.</footer></body></html>"
            )
            return Response(body, media_type="text/html; charset=utf-8")
