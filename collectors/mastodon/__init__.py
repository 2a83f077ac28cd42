"""Mastodon and compatible servers (Pixelfed, GoToSocial, Takahē…) through ``mastodon.py``."""

from collectors.mastodon.client import MastodonCollector
from collectors.mastodon.mapping import map_item

__all__ = ["MastodonCollector", "map_item"]
