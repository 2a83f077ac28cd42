"""Helpers for standing tests (a uniquely named module: test files import from here, not conftest).

The API harness lives in ``tests/api/conftest.py``; pytest offers a conftest's fixtures only to tests
below it, so this file loads that module (once, shared with other test folders) and re-exports them.
``seeded`` arranges one scored event: two registered reporters with counted and refused posts.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from sqlmodel import Session, select

from app.events.models import Event
from app.reporters.models import Reporter
from app.users.models import User
from collectors.base import CollectedPost, Platform, PostKind, Visibility


def _load_api_harness() -> ModuleType:
    name = "bie_tests_api_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "api" / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_api = _load_api_harness()
Actor = _api.Actor
check_problem = _api.check_problem
fast_password_hashing = _api.fast_password_hashing
api_settings = _api.api_settings
api_connection = _api.api_connection
db = _api.db
api_app = _api.api_app
client_factory = _api.client_factory
api_client = _api.api_client
make_user = _api.make_user
login_as = _api.login_as
assert_problem = _api.assert_problem

NOW = datetime(2025, 10, 20, tzinfo=UTC)
LONG = [
    "Mangrove restoration panel with fishers from the Sundarbans was inspiring",
    "Youth delegates demand a seat at the table for biodiversity finance decisions",
    "Indigenous rangers explained how camera traps help monitor snow leopards",
    "The Red List update shows freshwater species need urgent attention now",
]


def collected(
    key: str,
    handle: str,
    *,
    day: int = 10,
    hour: int = 8,
    text: str = LONG[0],
    tags: tuple[str, ...] = ("iucncec",),
    kind: PostKind = PostKind.POST,
    visibility: Visibility = Visibility.PUBLIC,
    likes: int = 0,
    html: str | None = None,
) -> CollectedPost:
    hashtags = " ".join(f"#{t}" for t in tags)
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/{handle}/statuses/{key}",
        local_id=key,
        url=f"https://social.example/@{handle}/{key}",
        author_key=f"mastodon:{handle}@social.example",
        author_name=handle,
        created_at=datetime(2025, 10, day, hour, tzinfo=UTC),
        text=f"{text} {hashtags}".strip(),
        html=html,
        tags=tags,
        kind=kind,
        visibility=visibility,
        likes=likes,
        version=f"v-{key}",
    )


@dataclass
class Seeded:
    event: Event
    ana: User  # public listing, logged in through `ana_client`
    ana_reporter: Reporter
    bo: User  # anonymous listing
    bo_reporter: Reporter
    posts: dict[str, int]  # name -> post id

    def post_id(self, name: str) -> int:
        return self.posts[name]


def reporter_of(db: Session, user: User) -> Reporter:
    found = db.exec(select(Reporter).where(Reporter.user_id == user.id)).one()
    return found
