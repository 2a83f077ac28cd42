"""Reason codes a post can fail on, in the order §5 lists them, and their words for people."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["REASON_TEXT", "Reason", "reason_words"]


class Reason(StrEnum):
    """Why a post does not count for an event; the value is the stable code stored and exported."""

    NOT_VERIFIED = "not_verified"
    NOT_REGISTERED = "not_registered"
    MISSING_TAG = "missing_tag"
    OUTSIDE_WINDOW = "outside_window"
    REPOST = "repost"
    NOT_PUBLIC = "not_public"
    TOO_SHORT = "too_short"
    DUPLICATE = "duplicate"
    DELETED = "deleted"
    EXCLUDED_BY_STAFF = "excluded_by_staff"


REASON_TEXT: dict[Reason, str] = {
    Reason.NOT_VERIFIED: ("The account that posted this is not a verified account of a reporter yet."),
    Reason.NOT_REGISTERED: "You are not registered for this event.",
    Reason.MISSING_TAG: (
        "The post does not carry #iucncec or #NatureForAll (and the event's own tag, "
        "when the event asks for it)."
    ),
    Reason.OUTSIDE_WINDOW: (
        "The post was published outside the coverage window (two days before the event "
        "to fourteen days after it, in the event's time zone)."
    ),
    Reason.REPOST: "Boosts, reposts and retweets never count; write your own post or quote it.",
    Reason.NOT_PUBLIC: "Only public posts count; this one is unlisted, followers-only or direct.",
    Reason.TOO_SHORT: (
        "The post has fewer than 40 characters of your own words (links, @mentions and "
        "#hashtags do not count), and no image or video."
    ),
    Reason.DUPLICATE: (
        "The same or nearly the same text already counts in another of your posts (cross-posts count once)."
    ),
    Reason.DELETED: "The post has been deleted.",
    Reason.EXCLUDED_BY_STAFF: "Programme staff excluded this post.",
}


def reason_words(reasons: tuple[Reason, ...]) -> tuple[str, ...]:
    """Return the human words for each reason code, in the same order."""
    return tuple(REASON_TEXT[reason] for reason in reasons)
