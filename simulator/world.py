"""Seeded, realistic people and post texts shared by every simulated platform.

The same reporters appear on every platform (so cross-posts and the demo's leaderboards are
coherent). Everything is derived from a seed: the same seed gives the same world.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FIRST = [
    "Amina",
    "Jonas",
    "Wanjiru",
    "Mateo",
    "Priya",
    "Liang",
    "Sofía",
    "Kwame",
    "Aroha",
    "Ingrid",
    "Tariq",
    "Noor",
    "Elena",
    "Kofi",
    "Yuki",
    "Tomás",
    "Leila",
    "Ravi",
    "Zanele",
    "Marta",
    "Hamid",
    "Chloé",
    "Sione",
    "Ayasha",
    "Björn",
    "Fatou",
    "Diego",
    "Mei",
    "Oluwaseun",
    "Anaïs",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Mwangi",
    "Rojas",
    "Sharma",
    "Wei",
    "García",
    "Mensah",
    "Ngata",
    "Hansen",
    "Haddad",
    "Rahman",
    "Popescu",
    "Asante",
    "Tanaka",
    "Silva",
    "Karimi",
    "Iyer",
    "Dlamini",
    "Nowak",
    "Farouk",
    "Dubois",
    "Taufa",
    "Begay",
    "Eriksson",
    "Diop",
    "Mendoza",
    "Chen",
    "Adeyemi",
    "Moreau",
]

TOPICS = [
    "Just heard a powerful panel on community-led mangrove restoration in the Sundarbans",
    "Youth delegates are demanding a seat at the table for biodiversity finance decisions",
    "Amazing session on nature-based solutions for coastal cities and their fishers",
    "Indigenous rangers shared how they monitor snow leopards with camera traps",
    "The new Red List update shows why freshwater species need urgent attention",
    "Workshop on environmental education in schools: children as nature ambassadors",
    "Walking the exhibition hall: so many ideas for rewilding urban parks",
    "A moving keynote about coral reef recovery after the last bleaching event",
    "Great conversation with rangers about human-wildlife coexistence in Kenya",
    "How storytelling can reconnect people with nature: notes from today's plenary",
    "Peatlands store more carbon than all forests combined; protecting them is climate action",
    "Side event on ocean literacy had standing room only this morning",
    "Mapping sacred natural sites with local communities: lessons from the Andes",
    "Citizen scientists counted 4,000 migratory birds along the flyway this week",
    "Finance for nature: what the new biodiversity framework means for small NGOs",
    "Inspiring talk on restoring grasslands with traditional grazing practices",
]
CLOSERS = [
    "Thread below.",
    "More soon!",
    "What do you think?",
    "Photos from the floor:",
    "Full notes on my blog.",
    "So much hope in this room.",
    "Let's keep going.",
    "",
]
PROGRAMME_TAGS = ["iucncec", "NatureForAll", "IUCNcec", "natureforall", "IUCNCEC", "NATUREFORALL"]
EVENT_TAGS = ["WCC2025", "CBDCOP17", "YouthNatureSummit", "AfricaForum"]


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    name: str
    mastodon_user: str
    mastodon_server: str  # the simulated server name where the account lives
    bluesky_handle: str
    bluesky_did: str
    blog_slug: str
    x_username: str
    x_user_id: str


def people(
    seed: int = 0, count: int = 60, mastodon_servers: tuple[str, ...] = ("social1", "social2", "social3")
) -> list[Person]:
    """The reporters of the world, stable for a seed."""
    rng = random.Random(f"people-{seed}")
    result = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slug = f"{first}{last}{i}".lower().encode("ascii", "ignore").decode()
        did_hash = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()[:24]
        result.append(
            Person(
                index=i,
                name=f"{first} {last}",
                mastodon_user=slug,
                mastodon_server=mastodon_servers[i % len(mastodon_servers)],
                bluesky_handle=f"{slug}.bsky.test",
                bluesky_did=f"did:plc:{did_hash}",
                blog_slug=slug,
                x_username=slug[:15],
                x_user_id=str(10_000_000 + i),
            )
        )
    return result


def post_text(
    rng: random.Random,
    *,
    event_tag: str | None = None,
    tagged: bool = True,
    short: bool = False,
    with_link: bool = False,
) -> tuple[str, list[str]]:
    """A realistic post text and the hashtags it carries (as written, mixed case)."""
    if short:
        body = rng.choice(["Wow!", "Day 2 here", "Great panel", "So inspiring", "Loving this"])
    else:
        body = f"{rng.choice(TOPICS)}. {rng.choice(CLOSERS)}".strip()
    tags: list[str] = []
    if tagged:
        tags.append(rng.choice(PROGRAMME_TAGS))
        if rng.random() < 0.4:
            tags.append(rng.choice(PROGRAMME_TAGS))
    if event_tag:
        tags.append(event_tag)
    tags = list(dict.fromkeys(tags))
    link = f" https://news.example.org/story/{rng.randrange(10**6)}" if with_link else ""
    text = body + link + ("" if not tags else " " + " ".join(f"#{t}" for t in tags))
    return text, tags


class SimClock:
    """The simulator's notion of now: wall time plus an offset tests and the demo can advance."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._base_wall = start or datetime.now(UTC)
        self._base_mono = time.monotonic()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            elapsed = timedelta(seconds=time.monotonic() - self._base_mono)
            return self._base_wall + elapsed + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
