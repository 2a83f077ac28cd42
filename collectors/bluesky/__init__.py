"""Bluesky (AT Protocol): ``client.BlueskyCollector`` (atproto SDK) and the pure ``mapping``."""
