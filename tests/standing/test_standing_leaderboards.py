"""Public leaderboards: DESIGN §8 item shape, pagination limits, platform filter, anonymity."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tests.standing.standing_seed import Seeded, check_problem

ITEM_KEYS = {
    "rank",
    "reporter",
    "score",
    "score_thousandths",
    "posts_counted",
    "days_covered",
    "platforms",
    "movement",
}


def test_event_leaderboard_shape_order_and_anonymity(api_client: Any, seeded: Seeded) -> None:
    response = api_client.get("/api/v1/events/wcc2025/leaderboard")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    assert [item.keys() for item in body["data"]] == [ITEM_KEYS, ITEM_KEYS]
    first, second = body["data"]
    # Bo: 3 counted posts on 3 event days beats Ana's 2 posts on 2 days
    assert (first["rank"], first["reporter"]) == (1, {"id": seeded.bo_reporter.id, "name": None})
    assert (second["rank"], second["reporter"]) == (2, {"id": seeded.ana_reporter.id, "name": "Ana Reporter"})
    assert (first["posts_counted"], first["days_covered"], first["platforms"]) == (3, 3, ["mastodon"])
    assert (second["posts_counted"], second["days_covered"]) == (2, 2)
    assert first["score"] == first["score_thousandths"] / 1000
    assert first["score_thousandths"] > second["score_thousandths"]
    assert "Bo Hidden" not in response.text


def test_event_leaderboard_pagination_and_limits(api_client: Any, seeded: Seeded) -> None:
    page = api_client.get("/api/v1/events/wcc2025/leaderboard", params={"limit": 1, "offset": 1}).json()
    assert page["count"] == 2
    assert [i["rank"] for i in page["data"]] == [2]
    beyond = api_client.get("/api/v1/events/wcc2025/leaderboard", params={"offset": 5}).json()
    assert beyond == {"data": [], "count": 2}
    for params in ({"limit": 201}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        check_problem(api_client.get("/api/v1/events/wcc2025/leaderboard", params=params), 422)
    check_problem(api_client.get("/api/v1/events/nope2031/leaderboard"), 404)
    check_problem(api_client.get("/api/v1/events/NOT%20A%20SLUG/leaderboard"), 404)


def test_event_leaderboard_platform_filter(api_client: Any, seeded: Seeded) -> None:
    mastodon = api_client.get("/api/v1/events/wcc2025/leaderboard", params={"platform": "mastodon"}).json()
    assert [i["reporter"]["id"] for i in mastodon["data"]] == [seeded.bo_reporter.id, seeded.ana_reporter.id]
    assert [i["reporter"]["name"] for i in mastodon["data"]] == [None, "Ana Reporter"]
    # the platform board has no breadth bonuses: only the posts' own points
    full = api_client.get("/api/v1/events/wcc2025/leaderboard").json()
    assert mastodon["data"][0]["score_thousandths"] < full["data"][0]["score_thousandths"]
    bluesky = api_client.get("/api/v1/events/wcc2025/leaderboard", params={"platform": "bluesky"}).json()
    assert bluesky["count"] == 2
    assert all(i["score_thousandths"] == 0 and i["posts_counted"] == 0 for i in bluesky["data"])
    check_problem(api_client.get("/api/v1/events/wcc2025/leaderboard", params={"platform": "myspace"}), 422)


def test_unpublished_event_board_is_staff_only(
    api_client: Any, login_as: Any, seeded: Seeded, db: Session
) -> None:
    seeded.event.published = False
    db.add(seeded.event)
    db.commit()
    check_problem(api_client.get("/api/v1/events/wcc2025/leaderboard"), 404)
    check_problem(api_client.get("/api/v1/events/wcc2025/leaderboard", params={"platform": "x"}), 404)
    staff = login_as("staff")
    assert staff.client.get("/api/v1/events/wcc2025/leaderboard").json()["count"] == 2


def test_season_leaderboard(api_client: Any, seeded: Seeded) -> None:
    body = api_client.get("/api/v1/leaderboards/season", params={"year": 2025}).json()
    assert body["count"] == 2
    assert [i["reporter"]["name"] for i in body["data"]] == [None, "Ana Reporter"]
    assert api_client.get("/api/v1/leaderboards/season", params={"year": 2030}).json() == {
        "data": [],
        "count": 0,
    }
    check_problem(api_client.get("/api/v1/leaderboards/season", params={"year": 1999}), 422)
    check_problem(api_client.get("/api/v1/leaderboards/season", params={"limit": 500}), 422)
