"""The moment a page shows, as the URL carries it: `?at=2026-11-02T10:30:00Z` (ISO 8601, UTC, whole
seconds), so that a link pasted into an incident review opens the same moment for everybody.

Pure functions (no UI): read `at` from a page's query, write it back, and read what a person typed
in their own zone. Every refusal is a `BadMoment` whose text is meant for the person reading the
page, never a traceback.

A moment without a zone (`2026-11-02T10:30`) is refused rather than read as UTC: the page's own
links always carry `Z`, so a zoneless one was typed or edited by hand, most likely in the local
time of whoever wrote it; reading it as UTC would show a colleague in another zone a different
moment than the one discussed, silently. The REST API refuses it too (`UtcTimestamp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlencode

from dashboard.schemas.common import EARLIEST

#: The query parameter that carries the moment.
PARAM = "at"
#: Longer than any ISO 8601 timestamp: a longer value is refused before it is parsed.
MAX_LENGTH = 40


class BadMoment(ValueError):
    """A moment the page cannot show; the message says why, in words for the reader."""


def format_at(at: datetime) -> str:
    """`2026-11-02T10:30:00Z`: UTC, whole seconds (what the cached reads are keyed on)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_moment(at: datetime, now: datetime) -> datetime:
    """`at` in UTC truncated to the second, or `BadMoment` if it is before 1970 or after `now`."""
    try:
        moment = at.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise BadMoment("That moment is outside the calendar the dashboard keeps (1970 onwards).") from None
    if moment < EARLIEST:
        raise BadMoment("That moment is before 1970; the dashboard keeps nothing that old.")
    if moment > now:
        raise BadMoment("That moment is in the future; there is no history of it yet.")
    return moment


def parse_at(raw: str, now: datetime) -> datetime:
    """The moment in a URL's `at`, aware UTC truncated to the second."""
    text = raw.strip()
    if not text or len(text) > MAX_LENGTH:
        raise BadMoment("The moment in the address is not a date and time.")
    try:
        parsed = _iso(text)
    except ValueError:
        raise BadMoment(
            f"The moment in the address ({text[:MAX_LENGTH]!r}) is not an ISO 8601 date and time, "
            "e.g. 2026-11-02T10:30:00Z."
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise BadMoment(
            "The moment in the address has no time zone; add Z for UTC (e.g. 2026-11-02T10:30:00Z)."
        )
    return check_moment(parsed, now)


def _iso(text: str) -> datetime:
    """ISO 8601, also when an unencoded "+" of the offset arrived decoded as a space."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        head, space, offset = text.rpartition(" ")
        if not space:
            raise
        return datetime.fromisoformat(f"{head}+{offset}")


def parse_local(value: str, zone: tzinfo, now: datetime) -> datetime:
    """What a person picked (`2026-11-02T11:30` or with seconds, a `datetime-local` field's value)
    as a moment in `zone`, their browser's. In a daylight-saving gap or overlap Python's rule
    applies (the earlier offset): an hour at most, once a year, and the banner shows the UTC
    moment chosen."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadMoment("Pick a date and a time first.") from None
    if naive.tzinfo is not None:
        naive = naive.replace(tzinfo=None)
    return check_moment(naive.replace(tzinfo=zone), now)


def url_with(path: str, params: Mapping[str, str], at: datetime | None) -> str:
    """`path` with the page's other query parameters kept, and `at` set (or removed for live)."""
    query = {name: value for name, value in params.items() if name != PARAM}
    if at is not None:
        query[PARAM] = format_at(at)
    return f"{path}?{urlencode(query, safe=':')}" if query else path
