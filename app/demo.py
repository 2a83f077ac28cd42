"""Seed a realistic programme on a simulated world for ``bie demo``.

A Congress-sized event running now and two smaller ones, the simulated world's 60 reporters with
verified accounts on Mastodon, Bluesky, blogs and X, registrations, trusted sources for every simulated
server, and staff, judge, admin and reporter logins with fresh random passwords.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from app.events import service as events_service
from app.ingest import service as ingest
from app.reporters import service as reporters_service
from app.users import service as users_service
from simulator.scenarios import Scenario

ACTOR_ROLE = "system:demo"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    congress_slug: str
    logins: dict[str, tuple[str, str]]


def seed_programme(engine: Engine, scenario: Scenario, sim_url: str, *, now: datetime) -> DemoCredentials:
    """Create events, users, reporters, registrations and sources; return the logins to print."""
    today = now.date()
    logins: dict[str, tuple[str, str]] = {}
    with Session(engine) as session:
        for role in ("admin", "staff", "judge"):
            password = secrets.token_urlsafe(9)
            users_service.create_user(
                session=session,
                email=f"{role}@demo.blogitearnit.org",
                password=password,
                role=role,
                name=f"Demo {role}",
                actor_role=ACTOR_ROLE,
            )
            logins[role] = (f"{role}@demo.blogitearnit.org", password)
        events = [
            {
                "slug": "congress-demo",
                "name": "IUCN World Conservation Congress (demo)",
                "timezone": "Asia/Dubai",
                "start": today - timedelta(days=2),
                "end": today + timedelta(days=4),
                "tag": "WCC2025",
                "fee": "500",
                "currency": "CHF",
                "subsidy_cap": "300",
                "budget": "6000",
                "location": "Abu Dhabi",
                "description": "Ten days of conservation science, policy and stories from around the world.",
            },
            {
                "slug": "youth-summit-demo",
                "name": "Youth Nature Summit (demo)",
                "timezone": "Africa/Nairobi",
                "start": today - timedelta(days=1),
                "end": today,
                "tag": "YouthNatureSummit",
                "fee": "100",
                "currency": "USD",
                "subsidy_cap": "50",
                "budget": "600",
                "location": "Nairobi",
            },
            {
                "slug": "ocean-webinars-demo",
                "name": "Ocean Literacy Webinar Series (demo)",
                "timezone": "America/Bogota",
                "start": today - timedelta(days=9),
                "end": today - timedelta(days=6),
                "location": "online",
            },
        ]
        created = [
            events_service.create_event(
                session=session, spec=events_service.parse_event(e), actor_role=ACTOR_ROLE
            )
            for e in events
        ]
        registered_at = now - timedelta(days=12)
        reporter_ids: list[int] = []
        for person in scenario.people:
            reporter = reporters_service.add_reporter(
                session=session,
                name=person.name,
                email=f"{person.blog_slug}@reporters.example",
                accounts=scenario.accounts(person, sim_url),
                verified=True,
                public_listing=person.index % 7 != 3,
                actor_role=ACTOR_ROLE,
            )
            assert reporter.id is not None
            reporter_ids.append(reporter.id)
            for number, event in enumerate(created):
                if (
                    number == 0
                    or (number == 1 and person.index % 3 == 0)
                    or (number == 2 and person.index % 4 == 0)
                ):
                    events_service.register(
                        session=session,
                        reporter=reporter,
                        event=event,
                        at=registered_at,
                        channel="import",
                        actor_role=ACTOR_ROLE,
                    )
        reporter_password = secrets.token_urlsafe(9)
        first = scenario.people[0]
        user = users_service.create_user(
            session=session,
            email=f"{first.blog_slug}@reporters.example",
            password=reporter_password,
            role="reporter",
            name=first.name,
            actor_role=ACTOR_ROLE,
        )
        reporter = reporters_service.get_reporter(session=session, reporter_id=reporter_ids[0])
        reporter.user_id = user.id
        session.add(reporter)
        logins["reporter"] = (user.email, reporter_password)
        for n, spec in enumerate(scenario.sources(sim_url, blog_feeds="authors")):
            token_env = None
            if spec.token:
                token_env = f"BIE_DEMO_SOURCE_TOKEN_{n}"
                os.environ[token_env] = spec.token
            ingest.add_source(
                session=session,
                platform=spec.platform,
                url=spec.url,
                tags=list(spec.tags),
                query=spec.query,
                handle=spec.handle,
                token_env=token_env,
                trusted=True,
                interval_s=30,
                name=f"simulated {spec.platform}",
                validate=False,
            )
        session.commit()
    return DemoCredentials(congress_slug="congress-demo", logins=logins)
