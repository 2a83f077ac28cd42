"""Ready-made worlds: three Mastodon servers sharing posts (one with string ids), Bluesky, blog sites and X
on one loopback server. Used by the collection tests, the demo and the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.app import Simulator
from simulator.blogs import BlogSim
from simulator.bluesky import BlueskySim
from simulator.core import Faults
from simulator.mastodon import MastodonFederation, MastodonSim
from simulator.world import Person, SimClock, people
from simulator.x import XSim

MASTODON_SERVERS = {"social1": "social1.example", "social2": "social2.example", "social3": "social3.example"}
STRING_ID_SERVER = "social3"
FOLLOWED_TAGS = ("iucncec", "NatureForAll")
BLUESKY_APP_PASSWORD = "app-pass-1234"
X_TOKEN = "sim-x-token"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as `bie sources add` takes it (all trusted: the simulator lives on loopback)."""

    platform: str
    url: str
    tags: tuple[str, ...] = ()
    query: str | None = None
    handle: str | None = None
    token: str | None = None  # a secret the app reads from an environment variable


@dataclass
class Scenario:
    simulator: Simulator
    clock: SimClock
    federation: MastodonFederation
    mastodon: dict[str, MastodonSim]
    bluesky: BlueskySim
    blogs: BlogSim
    x: XSim
    people: list[Person] = field(default_factory=list)

    def sources(self, base_url: str, *, blog_feeds: str = "sites") -> list[SourceSpec]:
        """Every source of the world; ``blog_feeds`` is "sites" (each site's feed, filtered by the followed
        tags) or "authors" (one feed per blogging reporter)."""
        base = base_url.rstrip("/")
        specs = [SourceSpec("mastodon", f"{base}/mastodon/{name}", FOLLOWED_TAGS) for name in self.mastodon]
        specs.append(
            SourceSpec(
                "bluesky",
                f"{base}/bluesky/xrpc",
                FOLLOWED_TAGS,
                handle=self.people[0].bluesky_handle,
                token=BLUESKY_APP_PASSWORD,
            )
        )
        for site in self.blogs.sites.values():
            if blog_feeds == "sites":
                specs.append(SourceSpec("blog", f"{base}/blogs/{site.name}/feed/", FOLLOWED_TAGS))
            else:
                specs += [
                    SourceSpec("blog", self.author_feed(base, site.name, author.blog_slug))
                    for author in site.authors
                ]
        specs.append(SourceSpec("x", f"{base}/x", query="#iucncec -is:retweet", token=X_TOKEN))
        return specs

    @staticmethod
    def author_feed(base_url: str, site: str, slug: str) -> str:
        return f"{base_url.rstrip('/')}/blogs/{site}/author/{slug}/feed/"

    def accounts(self, person: Person, base_url: str) -> list[str]:
        """The `platform:handle` accounts a reporter who is ``person`` links."""
        domain = self.federation.domains.get(person.mastodon_server, f"{person.mastodon_server}.example")
        found = [
            f"mastodon:{person.mastodon_user}@{domain}",
            f"bluesky:{person.bluesky_did}",
            f"x:{person.x_username}",
        ]
        for site in self.blogs.sites.values():
            if any(a.index == person.index for a in site.authors):
                found.append(f"blog:{self.author_feed(base_url, site.name, person.blog_slug)}")
        return found

    def truth(self) -> set[str]:
        return self.simulator.truth()

    def tick(self, seconds: float) -> None:
        self.simulator.tick(seconds)


def build_scenario(
    *,
    seed: int = 0,
    mastodon_posts: int = 600,
    bluesky_posts: int = 300,
    blog_articles: int = 40,
    blog_sites: int = 2,
    x_posts: int = 200,
    clock: SimClock | None = None,
    faults: Faults | None = None,
    feed_size: int = 10,
) -> Scenario:
    """Build every simulated server on one ``Simulator`` (call ``.simulator.serve()`` to run it)."""
    clock = clock or SimClock()
    federation = MastodonFederation(
        seed=seed, posts=mastodon_posts, servers=dict(MASTODON_SERVERS), clock=clock
    )
    simulator = Simulator()
    mastodon = {}
    for name, domain in MASTODON_SERVERS.items():
        server = MastodonSim(
            name=name,
            domain=domain,
            seed=seed,
            shared_pool=federation,
            string_ids=name == STRING_ID_SERVER,
            clock=clock,
        )
        mastodon[name] = server
        simulator.add(f"/mastodon/{name}", server, _copy(faults))
    bluesky = BlueskySim(seed=seed, posts=bluesky_posts, clock=clock, app_password=BLUESKY_APP_PASSWORD)
    simulator.add("/bluesky", bluesky, _copy(faults))
    blogs = BlogSim(seed=seed, sites=blog_sites, articles=blog_articles, clock=clock, feed_size=feed_size)
    simulator.add("/blogs", blogs, _copy(faults))
    x = XSim(seed=seed, posts=x_posts, clock=clock, bearer_token=X_TOKEN)
    simulator.add("/x", x, _copy(faults))
    return Scenario(
        simulator=simulator,
        clock=clock,
        federation=federation,
        mastodon=mastodon,
        bluesky=bluesky,
        blogs=blogs,
        x=x,
        people=people(seed),
    )


def _copy(faults: Faults | None) -> Faults:
    if faults is None:
        return Faults()
    clone = Faults()
    clone.update(dict(vars(faults)))
    return clone
