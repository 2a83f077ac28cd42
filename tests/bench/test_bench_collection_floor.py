"""bench.collection on Bluesky: posts per followed tag and the fewest requests the search API allows."""

from __future__ import annotations

import math

from bench import collection


def test_bluesky_counts_posts_per_tag_and_stays_within_one_request_of_the_floor() -> None:
    measured = collection.measure("bluesky", 400, rate_limit=300, window_s=5)
    per_tag = measured["new_per_tag"]
    assert set(per_tag) == {"iucncec", "natureforall"}
    # a post with both tags counts for both, and every new post carries at least one of them
    assert sum(per_tag.values()) >= measured["new"] >= max(per_tag.values()) > 0
    assert measured["floor"] == sum(math.ceil(n / 100) for n in per_tag.values()) + 1
    # one search per tag; the only extra requests are re-queries after exactly full last pages
    assert measured["floor"] <= measured["requests"] <= measured["floor"] + len(per_tag)
    assert measured["second_pass_new"] == 0
