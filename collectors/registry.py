"""The explicit registry: one collector class per platform (no folder scanning).

Imports are lazy so that a platform's SDK (``mastodon.py``, ``atproto``) is loaded only when used.
"""

from __future__ import annotations

import importlib

from collectors.base import Collector, Platform

_REGISTRY: dict[Platform, str] = {
    Platform.MASTODON: "collectors.mastodon.client:MastodonCollector",
    Platform.BLUESKY: "collectors.bluesky.client:BlueskyCollector",
    Platform.BLOG: "collectors.blog.client:BlogCollector",
    Platform.X: "collectors.x.client:XCollector",
}


def collector_for(platform: Platform | str, **options: object) -> Collector:
    """Build the collector of ``platform``; ``options`` go to its constructor (e.g. ``clock``)."""
    module_name, _, class_name = _REGISTRY[Platform(platform)].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    collector: Collector = cls(**options)
    return collector


def platforms() -> list[Platform]:
    return list(_REGISTRY)
