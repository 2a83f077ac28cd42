"""Factories for scoring inputs: one valid counted post by default, override what a test needs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from scoring import (
    EventSpec,
    ExtensionNeeds,
    PostFacts,
    ReporterFacts,
    ReporterResult,
    RuleSet,
    StoredPost,
    load_rules,
)

RULES: RuleSet = load_rules("2026.1")

# Asia/Dubai is UTC+4 all year: 12:00 local is 08:00 UTC.
EVENT = EventSpec(
    id=1,
    slug="wcc",
    start=date(2025, 10, 9),
    end=date(2025, 10, 11),
    timezone="Asia/Dubai",
    event_tag="WCC25",
    require_event_tag=False,
    fee=Decimal("500"),
    currency="CHF",
    subsidy_cap=Decimal("300"),
)

ALICE = 1
BOB = 2
ALICE_MASTODON = "mastodon:alice@mastodon.example"
ALICE_BLUESKY = "bluesky:alice.bsky.social"
ALICE_BLOG = "blog:https://alice.example/feed"
BOB_MASTODON = "mastodon:bob@mastodon.example"

_WORDS = (
    "mangrove coral reef wetland savanna glacier estuary meadow peatland kelp forest river delta "
    "tundra prairie lagoon canopy seagrass orchid pangolin turtle heron salmon bison lynx otter "
    "beetle pollinator lichen fungus aquifer watershed restoration corridor ranger youth indigenous "
    "knowledge finance pledge treaty biodiversity climate ocean plastic drought wildfire seedbank"
).split()

# the earliest instant in the event, 12:00 on the start day in Dubai
NOON_DAY_ONE = datetime(2025, 10, 9, 8, 0, tzinfo=UTC)


def sentence(seed: int, words: int = 10) -> str:
    """Return a distinct sentence of vocabulary words (far from any other seed's sentence)."""
    chosen = random.Random(seed).sample(_WORDS, words)
    return " ".join(chosen).capitalize() + "."


def make_post(post_id: int, **overrides: Any) -> PostFacts:
    """Return a counted short Mastodon post of Alice on the first event day, with overrides."""
    values: dict[str, Any] = {
        "post_id": post_id,
        "reporter_id": ALICE,
        "account_key": ALICE_MASTODON,
        "account_verified": True,
        "platform": "mastodon",
        "global_key": f"https://mastodon.example/statuses/{post_id}",
        "created_at": NOON_DAY_ONE,
        "kind": "post",
        "text": f"{sentence(post_id)} #iucncec",
    }
    values.update(overrides)
    return PostFacts(**values)


def make_reporter(reporter_id: int = ALICE, **overrides: Any) -> ReporterFacts:
    """Return a registered reporter (registered well before the event) with overrides."""
    keys = {
        ALICE: frozenset({ALICE_MASTODON, ALICE_BLUESKY, ALICE_BLOG}),
        BOB: frozenset({BOB_MASTODON}),
    }
    values: dict[str, Any] = {
        "reporter_id": reporter_id,
        "name": {ALICE: "Alice", BOB: "Bob"}.get(reporter_id, f"Reporter {reporter_id}"),
        "anonymous": False,
        "registered_at": datetime(2025, 9, 1, tzinfo=UTC),
        "verified_account_keys": keys.get(reporter_id, frozenset()),
    }
    values.update(overrides)
    return ReporterFacts(**values)


def stored_posts(result: ReporterResult, posts: Sequence[PostFacts]) -> list[StoredPost]:
    """What the app stores of a result and reads back for ``extend_reporter``."""
    by_id = {post.post_id: post for post in posts}
    return [
        StoredPost(
            post_id=verdict.post_id,
            counted=verdict.counted,
            reasons=verdict.reasons,
            day=verdict.day,
            base_points=verdict.base_points,
            engagement_points=verdict.engagement_points,
            points=verdict.points,
            created_at=by_id[verdict.post_id].created_at,
            platform=by_id[verdict.post_id].platform,
            global_key=by_id[verdict.post_id].global_key,
            kind=by_id[verdict.post_id].kind,
            shingle_count=verdict.shingle_count,
            shingle_prefix=verdict.shingle_prefix,
        )
        for verdict in result.verdicts
    ]


def needed(stored: Sequence[StoredPost], needs: ExtensionNeeds) -> list[StoredPost]:
    """Only the stored posts ``needs`` names, as the app reads them."""
    return [
        item
        for item in stored
        if (item.counted and item.day in needs.days)
        or any(low <= (item.shingle_count or -1) <= high for low, high in needs.sizes)
    ]
