"""Frozen snapshots as pure data: build one from scoring facts, recompute it, mask it for blind judging.

A snapshot is a plain JSON document (canonical form of ``scoring.snapshot``) holding everything the
pure scoring needs — the event, its reporters and their posts — plus what the scoring made of them:
every verdict, every reporter's breakdown and the leaderboard. ``recompute`` rebuilds the facts from
the document alone and runs the pure scoring again, so anyone holding the snapshot and the rule set
can check that the stored verdicts follow from the stored facts and that the hash matches.

Nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from scoring.engine import (
    PostVerdict,
    ReporterResult,
    rank_leaderboard,
    registered_verified_keys,
    score_reporter,
)
from scoring.model import EventSpec, PostFacts, ReporterFacts
from scoring.rules import RuleSet
from scoring.snapshot import snapshot_hash, to_canonical

SNAPSHOT_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ReporterExtras:
    """What a snapshot keeps of a reporter beyond the scoring facts."""

    handles: tuple[str, ...] = ()
    earlier_registrations: int = 0


@dataclass(frozen=True, slots=True)
class PostExtras:
    """What a snapshot keeps of a post beyond the scoring facts (for judges to read)."""

    url: str | None = None
    author_name: str | None = None


# --- building -------------------------------------------------------------------------------------


def _verdict_json(verdict: PostVerdict) -> dict[str, Any]:
    return {
        "post_id": verdict.post_id,
        "reporter_id": verdict.reporter_id,
        "counted": verdict.counted,
        "points": verdict.points,
        "base_points": verdict.base_points,
        "engagement_points": verdict.engagement_points,
        "reasons": [reason.value for reason in verdict.reasons],
        "day": verdict.day.isoformat(),
        "daily_rank": verdict.daily_rank,
        "duplicate_of": verdict.duplicate_of,
    }


def _post_json(post: PostFacts, extras: PostExtras) -> dict[str, Any]:
    data: dict[str, Any] = to_canonical(post)
    data["url"] = extras.url
    data["author_name"] = extras.author_name
    return data


def _reporter_json(reporter: ReporterFacts, extras: ReporterExtras) -> dict[str, Any]:
    return {
        "reporter_id": reporter.reporter_id,
        "name": reporter.name,
        "anonymous": reporter.anonymous,
        "registered_at": to_canonical(reporter.registered_at),
        "verified_account_keys": sorted(reporter.verified_account_keys),
        "handles": sorted(set(extras.handles)),
        "earlier_registrations": extras.earlier_registrations,
    }


def _scored(
    rules: RuleSet, event: EventSpec, reporters: Sequence[ReporterFacts], posts: Iterable[PostFacts]
) -> dict[str, Any]:
    """Verdicts, breakdowns and leaderboard of these facts, as snapshot JSON."""
    by_reporter: dict[int, list[PostFacts]] = {r.reporter_id: [] for r in reporters}
    for post in posts:
        if post.reporter_id not in by_reporter:
            raise ValueError(
                f"post {post.post_id} belongs to reporter {post.reporter_id}, not in the snapshot"
            )
        by_reporter[post.reporter_id].append(post)
    # The same set the app uses: every registered reporter's verified keys (own keys are left out anyway).
    engaged_by_reporters = registered_verified_keys(reporters)
    results: list[ReporterResult] = [
        score_reporter(
            rules=rules,
            event=event,
            reporter=reporter,
            posts=by_reporter[reporter.reporter_id],
            other_reporters_verified_keys=engaged_by_reporters,
        )
        for reporter in reporters
    ]
    verdicts = sorted(
        (_verdict_json(v) for result in results for v in result.verdicts), key=lambda v: v["post_id"]
    )
    breakdowns = sorted(
        (
            {"reporter_id": r.reporter_id, "registered": r.registered, "breakdown": to_canonical(r.breakdown)}
            for r in results
        ),
        key=lambda b: b["reporter_id"],
    )
    leaderboard = [
        {
            "rank": entry.rank,
            "reporter_id": entry.reporter_id,
            "score": entry.score,
            "posts_counted": entry.posts_counted,
            "days_covered": entry.days_covered,
            "event_days_covered": entry.event_days_covered,
            "platforms": list(entry.platforms),
            "first_counted_at": to_canonical(entry.first_counted_at),
        }
        for entry in rank_leaderboard(results=results)
    ]
    return to_canonical({"verdicts": verdicts, "results": breakdowns, "leaderboard": leaderboard})  # type: ignore[no-any-return]  # to_canonical of a dict is a dict


def build_snapshot(
    *,
    rules: RuleSet,
    rules_sha256: str,
    event: EventSpec,
    reporters: Sequence[ReporterFacts],
    posts: Iterable[PostFacts],
    reporter_extras: Mapping[int, ReporterExtras] | None = None,
    post_extras: Mapping[int, PostExtras] | None = None,
) -> dict[str, Any]:
    """Score these facts and return the whole snapshot document (canonical JSON values)."""
    reporter_extras = reporter_extras or {}
    post_extras = post_extras or {}
    ordered_reporters = sorted(reporters, key=lambda r: r.reporter_id)
    ordered_posts = sorted({p.post_id: p for p in posts}.values(), key=lambda p: p.post_id)
    facts: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "event": to_canonical(event),
        "rules": {"version": rules.version, "sha256": rules_sha256},
        "reporters": [
            _reporter_json(r, reporter_extras.get(r.reporter_id, ReporterExtras())) for r in ordered_reporters
        ],
        "posts": [_post_json(p, post_extras.get(p.post_id, PostExtras())) for p in ordered_posts],
    }
    return {**facts, **_scored(rules, event, ordered_reporters, ordered_posts)}


# --- reading back ---------------------------------------------------------------------------------


def _datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def event_from_snapshot(snapshot: Mapping[str, Any]) -> EventSpec:
    data = dict(snapshot["event"])
    data["start"] = date.fromisoformat(data["start"])
    data["end"] = date.fromisoformat(data["end"])
    data["fee"] = _decimal(data.get("fee"))
    data["subsidy_cap"] = _decimal(data.get("subsidy_cap"))
    return EventSpec(**data)


def reporters_from_snapshot(snapshot: Mapping[str, Any]) -> list[ReporterFacts]:
    return [
        ReporterFacts(
            reporter_id=int(r["reporter_id"]),
            name=r["name"],
            anonymous=bool(r["anonymous"]),
            registered_at=_datetime(r["registered_at"]),
            verified_account_keys=frozenset(r["verified_account_keys"]),
        )
        for r in snapshot["reporters"]
    ]


_POST_FIELDS = frozenset(PostFacts.__dataclass_fields__)


def posts_from_snapshot(snapshot: Mapping[str, Any]) -> list[PostFacts]:
    posts = []
    for p in snapshot["posts"]:
        values = {key: value for key, value in p.items() if key in _POST_FIELDS}
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        for name in ("tags", "liked_by", "reposted_by", "replied_by"):
            values[name] = tuple(values.get(name, ()))
        posts.append(PostFacts(**values))
    return posts


def recompute(snapshot: Mapping[str, Any], rules: RuleSet) -> dict[str, Any]:
    """Re-run the pure scoring on the facts stored in ``snapshot``; return the document it gives."""
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"unknown snapshot format {snapshot.get('format')!r}")
    event = event_from_snapshot(snapshot)
    reporters = reporters_from_snapshot(snapshot)
    posts = posts_from_snapshot(snapshot)
    facts = {key: snapshot[key] for key in ("format", "event", "rules", "reporters", "posts")}
    return {**to_canonical(facts), **_scored(rules, event, reporters, posts)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a recomputed snapshot differs from a stored one."""

    stored_hash: str
    recomputed_hash: str
    differences: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return self.stored_hash == self.recomputed_hash and not self.differences


def compare(stored: Mapping[str, Any], recomputed: Mapping[str, Any], *, limit: int = 20) -> Comparison:
    """Name (up to ``limit``) verdicts, breakdowns and leaderboard rows that differ."""
    differences: list[str] = []
    keyed = {"verdicts": "post_id", "results": "reporter_id", "leaderboard": "rank"}
    for part, key in keyed.items():
        old = {row[key]: row for row in stored.get(part, [])}
        new = {row[key]: row for row in recomputed.get(part, [])}
        for ident in sorted(set(old) | set(new)):
            if old.get(ident) != new.get(ident):
                differences.append(f"{part}: {key} {ident} differs")
    return Comparison(
        stored_hash=snapshot_hash(stored),
        recomputed_hash=snapshot_hash(recomputed),
        differences=tuple(differences[:limit]),
    )


# --- blind judging --------------------------------------------------------------------------------

# As scoring.text: a link is a scheme, "://" and non-space characters; a mention is @user,
# @user@server or @handle.bsky.social (not the middle of an e-mail address).
_LINK = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"]*[^\s<>\".,;:!?'’)\]}]")
_MENTION = re.compile(r"(?<![\w@])[@＠](\w(?:[\w.-]*\w)?(?:@\w(?:[\w.-]*\w)?)?)")
LINK_PLACEHOLDER = "[link]"


def own_handle_forms(handles: Iterable[str]) -> frozenset[str]:
    """Every form in which a reporter's own handles can be @mentioned, lower-cased."""
    forms: set[str] = set()
    for handle in handles:
        value = handle.strip().lower()
        platform, sep, rest = value.partition(":")
        if sep and platform in ("mastodon", "bluesky", "x", "blog"):
            if platform == "blog":
                continue  # a feed URL is not mentioned; links are masked anyway
            value = rest
        value = value.lstrip("@＠")
        if not value or value.startswith("did:"):
            continue
        forms.add(value)
        user, at, _server = value.partition("@")
        if at and user:
            forms.add(user)  # @user on the reporter's own server
    return frozenset(forms)


def blind_text(text: str, handles: Iterable[str]) -> str:
    """The text with links masked and @mentions of the reporter's own handles removed."""
    forms = own_handle_forms(handles)
    masked = _LINK.sub(LINK_PLACEHOLDER, text)

    def strip_own(match: re.Match[str]) -> str:
        return "" if match.group(1).lower() in forms else match.group(0)

    stripped = _MENTION.sub(strip_own, masked)
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


# --- shortlist candidates -------------------------------------------------------------------------

CATEGORY_KINDS = ("overall", "article", "visual", "newcomer")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A reporter eligible for a category, with the automatic score it is ranked by (thousandths)."""

    reporter_id: int
    auto_score: int
    post_id: int | None
    leaderboard_rank: int


class FrozenView:
    """Indexes over one snapshot: posts and verdicts by reporter, ranks, reporter facts."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot = snapshot
        self.posts: dict[int, Mapping[str, Any]] = {int(p["post_id"]): p for p in snapshot.get("posts", [])}
        self.reporters: dict[int, Mapping[str, Any]] = {
            int(r["reporter_id"]): r for r in snapshot.get("reporters", [])
        }
        self.leaderboard: dict[int, Mapping[str, Any]] = {
            int(e["reporter_id"]): e for e in snapshot.get("leaderboard", [])
        }
        self.counted: dict[int, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        for verdict in snapshot.get("verdicts", []):
            if verdict["counted"] and verdict["reporter_id"] is not None:
                post = self.posts[int(verdict["post_id"])]
                self.counted.setdefault(int(verdict["reporter_id"]), []).append((post, verdict))
        for pairs in self.counted.values():
            # best first: points, then earliest, then post id (stable for equal times)
            pairs.sort(key=lambda pv: (-int(pv[1]["points"]), pv[0]["created_at"], int(pv[0]["post_id"])))

    def counted_posts(self, reporter_id: int, kind: str) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        """The reporter's counted (post, verdict) pairs that matter for a category kind, best first."""
        pairs = self.counted.get(reporter_id, [])
        if kind == "article":
            return [pv for pv in pairs if pv[0]["kind"] == "article"]
        if kind == "visual":
            return [pv for pv in pairs if int(pv[0]["media_count"]) > 0]
        return list(pairs)

    def candidate(self, reporter_id: int, kind: str) -> Candidate | None:
        """The reporter as a candidate of a category kind; None when not on the frozen leaderboard."""
        entry = self.leaderboard.get(reporter_id)
        if entry is None:
            return None
        pairs = self.counted_posts(reporter_id, kind)
        rank = int(entry["rank"])
        if kind == "article":
            best = pairs[0] if pairs else None
            return Candidate(
                reporter_id,
                int(best[1]["points"]) if best else 0,
                int(best[0]["post_id"]) if best else None,
                rank,
            )
        if kind == "visual":
            total = sum(int(v["points"]) for _, v in pairs)
            return Candidate(reporter_id, total, int(pairs[0][0]["post_id"]) if pairs else None, rank)
        return Candidate(reporter_id, int(entry["score"]), None, rank)

    def is_newcomer(self, reporter_id: int) -> bool:
        reporter = self.reporters.get(reporter_id)
        return reporter is not None and int(reporter.get("earlier_registrations", 0)) == 0

    def candidates(self, kind: str) -> list[Candidate]:
        """Everyone who qualifies for a category kind, best first.

        A reporter qualifies with at least one counted post of the kind (newcomers: registered for
        no event that started earlier). Order: automatic score, then the frozen leaderboard rank
        (which §5 already breaks without ties), so the order is total.
        """
        found = []
        for reporter_id in self.leaderboard:
            if kind == "newcomer" and not self.is_newcomer(reporter_id):
                continue
            if not self.counted_posts(reporter_id, kind):
                continue
            candidate = self.candidate(reporter_id, kind)
            if candidate is not None:
                found.append(candidate)
        found.sort(key=lambda c: (-c.auto_score, c.leaderboard_rank))
        return found
