"""The collection and scoring commands end to end against the simulator: sources, collect, export,
score, leaderboard (both databases)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from simulator.core import ServerHandle
from simulator.scenarios import Scenario, build_scenario
from tests.cli.conftest import Bie


@pytest.fixture
def sim() -> Iterator[tuple[Scenario, ServerHandle]]:
    scenario = build_scenario(mastodon_posts=120, bluesky_posts=60, blog_articles=10, x_posts=40)
    handle = scenario.simulator.serve().start()
    yield scenario, handle
    handle.stop()


def test_sources_collect_score_leaderboard_and_export(bie: Bie, app_env: str, sim, monkeypatch) -> None:
    scenario, handle = sim
    today = datetime.now(UTC).date()
    code, _, err = bie(
        "events",
        "create",
        "--slug",
        "summit",
        "--name",
        "Summit",
        "--start",
        str(today - timedelta(days=1)),
        "--end",
        str(today + timedelta(days=1)),
        "--timezone",
        "UTC",
    )
    assert code == 0, err
    person = scenario.people[0]
    accounts = [x for a in scenario.accounts(person, handle.url) for x in ("--account", a)]
    code, out, err = bie("reporters", "add", "--name", person.name, *accounts, "--verified")
    assert code == 0, err
    reporter_id = out.strip()
    assert (
        bie(
            "reporters",
            "register",
            reporter_id,
            "summit",
            "--at",
            (datetime.now(UTC) - timedelta(days=5)).isoformat(),
        )[0]
        == 0
    )

    monkeypatch.setenv("SIM_X_TOKEN", "sim-x-token")
    ids = []
    for args in (
        ["mastodon", "--url", f"{handle.url}/mastodon/social1", "--tag", "iucncec", "--tag", "NatureForAll"],
        ["rss", "--url", f"{handle.url}/blogs/{next(iter(scenario.blogs.sites))}/feed/"],
        ["x", "--url", f"{handle.url}/x", "--token-env", "SIM_X_TOKEN"],
    ):
        code, out, err = bie("sources", "add", *args, "--trusted", "--every", "60")
        assert code == 0, err
        ids.append(out.strip())
    code, _, err = bie("sources", "add", "myspace", "--url", "https://x.example")
    assert code == 2
    assert "unknown platform" in err
    code, _, err = bie("sources", "add", "mastodon", "--url", "https://x.example", "--every", "5")
    assert code == 2
    assert "between 30 seconds" in err

    code, out, err = bie("collect", "--all")
    assert code == 0, err + out
    assert "new" in out
    code, out, _ = bie("sources", "list")
    assert code == 0
    assert out.count("ok") >= 3
    code, _, err = bie("collect")
    assert code == 2
    assert "--source ID or --all" in err

    assert bie("score", "--full")[0] == 0
    code, out, err = bie("leaderboard", "summit", "--json")
    assert code == 0, err
    board = json.loads(out)
    assert board["count"] == 1
    item = board["data"][0]
    assert set(item) >= {
        "rank",
        "reporter",
        "score",
        "posts_counted",
        "days_covered",
        "platforms",
        "movement",
    }
    assert item["reporter"] == {"id": int(reporter_id), "name": person.name}
    code, out, _ = bie("leaderboard", "summit", "--json", "--platform", "mastodon")
    assert code == 0
    assert json.loads(out)["data"][0]["platforms"] in ([], ["mastodon"])
    code, _, err = bie("leaderboard", "nope")
    assert code == 2
    assert "not found" in err

    code, out, err = bie("export", "posts", "--format", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines
    assert set(lines[0]) >= {
        "platform",
        "global_key",
        "url",
        "author",
        "reporter_id",
        "created_at",
        "edited_at",
        "deleted_at",
        "tags",
        "likes",
        "reposts",
        "replies",
    }
    assert {row["platform"] for row in lines} == {"mastodon", "blog", "x"}
    code, out, err = bie("export", "posts", "--format", "csv", "--event", "summit")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert 0 < len(rows) <= len(lines)
