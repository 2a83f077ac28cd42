"""Every English string the web pages show, in one catalogue, so that it can be translated later.

Templates call ``t("key", name=…)``; Python code imports ``t`` from here. A message is a
``str.format`` template. Plurals: give ``key.one`` and ``key.other`` and call ``t("key", count=n)``.

An unknown key renders as the key itself (a page never fails on a missing string); the test
``tests/web/test_web_i18n.py`` checks that every key used in a template or in ``app/web`` exists.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

MESSAGES: dict[str, str] = {
    # --- site and navigation -----------------------------------------------------------------------
    "site.name": "BlogItEarnIt",
    "site.tagline": "Conservation-event coverage by CEC Social Media Reporters",
    "site.skip_to_content": "Skip to main content",
    "site.footer": "IUCN Commission on Education and Communication — #iucncec #NatureForAll",
    "nav.label": "Main",
    "nav.events": "Events",
    "nav.calendar_feed": "Calendar feed (.ics)",
    "nav.login": "Log in",
    "nav.signup": "Sign up",
    "nav.logout": "Log out",
    "nav.signed_in_as": "Signed in as {name}",
    # --- calendar ----------------------------------------------------------------------------------
    "calendar.title": "Events calendar",
    "calendar.intro": "Conservation events covered by CEC Social Media Reporters, by month.",
    "calendar.subscribe": "Subscribe to the calendar (.ics)",
    "calendar.empty": "No events yet.",
    "calendar.unpublished": "not published",
    "calendar.previous": "Earlier events",
    "calendar.next": "Later events",
    "calendar.pages": "Calendar pages",
    # --- event -------------------------------------------------------------------------------------
    "event.dates": "Dates",
    "event.timezone": "Time zone",
    "event.location": "Location",
    "event.tag": "Event tag",
    "event.tag_required": "#{tag} (required in every post, with #iucncec or #NatureForAll)",
    "event.tag_optional": "#{tag} (welcome, not required)",
    "event.tags_needed": "Posts need #iucncec or #NatureForAll.",
    "event.rules": "Rules version",
    "event.window": "Coverage window",
    "event.registration_deadline": "Registration closes",
    "event.judging_deadline": "Judging deadline",
    "event.fee": "Event fee",
    "event.subsidy_cap": "Fee subsidy up to",
    "event.website": "Event website",
    "event.leaderboard_link": "Live leaderboard",
    "event.wall_link": "Display wall (full screen)",
    "event.unpublished": "This event is not published; only staff can see it.",
    # --- leaderboard -------------------------------------------------------------------------------
    "leaderboard.title": "Leaderboard — {event}",
    "leaderboard.caption": "Reporters ranked by score",
    "leaderboard.caption_platform": "Reporters ranked by points on {platform}",
    "leaderboard.rank": "Rank",
    "leaderboard.reporter": "Reporter",
    "leaderboard.score": "Score",
    "leaderboard.posts": "Counted posts",
    "leaderboard.days": "Event days covered",
    "leaderboard.platforms": "Platforms",
    "leaderboard.movement": "Movement",
    "leaderboard.anonymous": "Anonymous reporter",
    "leaderboard.empty": "Nobody is ranked yet.",
    "leaderboard.filter": "Platform",
    "leaderboard.all_platforms": "All platforms",
    "leaderboard.apply": "Show",
    "leaderboard.pages": "Leaderboard pages",
    "leaderboard.previous": "Previous page",
    "leaderboard.next": "Next page",
    "leaderboard.page_of": "Page {page} of {pages}",
    "leaderboard.moved_up": "up {n}",
    "leaderboard.moved_down": "down {n}",
    "leaderboard.unchanged": "no change",
    "leaderboard.new": "new",
    # --- display wall ------------------------------------------------------------------------------
    "wall.title": "{event} — live",
    "wall.top": "Top reporters",
    "wall.latest": "Latest counted posts",
    "wall.chart": "Counted posts per hour",
    "wall.no_posts": "No counted posts yet.",
    "wall.updated": "Updated {time}",
    "wall.offline": "Connection lost — retrying",
    "wall.points.one": "{count} point",
    "wall.points.other": "{count} points",
    "wall.posts.one": "{count} post",
    "wall.posts.other": "{count} posts",
    "wall.a_reporter": "A reporter",
    "wall.hashtags": "Tag your posts #iucncec or #NatureForAll",
    # --- charts ------------------------------------------------------------------------------------
    "chart.posts_per_hour.title": "Counted posts per hour by platform",
    "chart.posts_per_hour.desc": "{total} counted posts in the 24 hours to {end}: {parts}.",
    "chart.posts_per_hour.part": "{platform} {count}",
    "chart.posts_per_hour.none": "No counted posts in the 24 hours to {end}.",
    "chart.hour": "Hour",
    # --- platforms ---------------------------------------------------------------------------------
    "platform.mastodon": "Mastodon",
    "platform.bluesky": "Bluesky",
    "platform.blog": "Blogs",
    "platform.x": "X",
    # --- forms and auth ----------------------------------------------------------------------------
    "form.required": "required",
    "form.errors_summary": "Please correct the fields marked below.",
    "form.csrf_expired": "This form has expired. Please submit it again.",
    "login.title": "Log in",
    "login.email": "Email",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong email or password.",
    "login.throttled": "Too many failed attempts. Try again in {seconds} seconds.",
    "login.no_account": "No account yet? Sign up.",
    "login.registered": "Your account is ready. Log in to continue.",
    "login.logged_out": "You are logged out.",
    "signup.title": "Sign up as a reporter",
    "signup.intro": (
        "Create an account to register for events, link your social accounts and follow your standing."
    ),
    "signup.name": "Name",
    "signup.name_hint": "Shown on leaderboards unless you choose anonymous listing later.",
    "signup.email": "Email",
    "signup.password": "Password",
    "signup.password_hint": "At least {min} characters.",
    "signup.submit": "Create account",
    "signup.have_account": "Already have an account? Log in.",
    "signup.name_missing": "Enter your name.",
    "signup.name_too_long": "Use at most 200 characters.",
    "signup.email_invalid": "Enter an email address like ana@example.org.",
    "signup.email_taken": "An account with this email already exists. Log in instead.",
    "signup.password_short": "Use at least {min} characters.",
    "signup.password_long": "Use at most 1024 characters.",
    "login.email_missing": "Enter your email address.",
    "login.password_missing": "Enter your password.",
    # --- errors ------------------------------------------------------------------------------------
    "error.title": "{status} — {title}",
    "error.404": "Not found",
    "error.403": "Not allowed",
    "error.422": "Invalid request",
    "error.429": "Too many requests",
    "error.409": "Conflict",
    "error.generic": "Something went wrong",
    "error.back_home": "Back to the events calendar",
    # --- dates -------------------------------------------------------------------------------------
    "date.day": "{day} {month} {year}",
    "date.range_same_month": "{start_day}–{end_day} {month} {year}",
    "date.range_same_year": "{start_day} {start_month} – {end_day} {end_month} {year}",
    "date.range": "{start} – {end}",
    "date.datetime": "{date}, {time}",
    "date.month_year": "{month} {year}",
    "month.1": "January",
    "month.2": "February",
    "month.3": "March",
    "month.4": "April",
    "month.5": "May",
    "month.6": "June",
    "month.7": "July",
    "month.8": "August",
    "month.9": "September",
    "month.10": "October",
    "month.11": "November",
    "month.12": "December",
}


def t(key: str, /, **values: Any) -> str:
    """The message ``key`` filled with ``values``; ``count`` picks ``key.one`` / ``key.other``."""
    template = MESSAGES.get(key)
    if template is None and "count" in values:
        template = MESSAGES.get(f"{key}.{'one' if values['count'] == 1 else 'other'}")
    if template is None:
        return key
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):  # a missing value: show the template, never fail
        return template


def month_name(month: int) -> str:
    return t(f"month.{month}")


def format_date(day: date) -> str:
    """``9 October 2025``."""
    return t("date.day", day=day.day, month=month_name(day.month), year=day.year)


def format_date_range(start: date, end: date) -> str:
    """``9–15 October 2025``, ``28 September – 3 October 2025``, or two full dates."""
    if start == end:
        return format_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return t(
            "date.range_same_month",
            start_day=start.day,
            end_day=end.day,
            month=month_name(start.month),
            year=start.year,
        )
    if start.year == end.year:
        return t(
            "date.range_same_year",
            start_day=start.day,
            start_month=month_name(start.month),
            end_day=end.day,
            end_month=month_name(end.month),
            year=start.year,
        )
    return t("date.range", start=format_date(start), end=format_date(end))


def format_datetime(moment: datetime) -> str:
    """``9 October 2025, 14:05 GST`` in the moment's own zone (convert it first)."""
    zone = moment.tzname() or ""
    clock = moment.strftime("%H:%M") + (f" {zone}" if zone else "")
    return t("date.datetime", date=format_date(moment.date()), time=clock)
