"""Query services: the async READ side shared by the REST API and the pages.

The read functions live in the submodules (`reconciliation`, `positions`, `guards`, `accounts`);
this package module only holds the helpers they share. It deliberately does not import the
submodules, so that a submodule can import these helpers without an import cycle.

Rules every read follows, and why:

- Ownership is part of the SQL (`WHERE user_id = :viewer`) unless the viewer sees all. Someone
  else's row therefore never leaves the database, and asking for it raises `NotFound`, exactly like
  a row that does not exist (no IDOR oracle).
- One or two statements per read, whatever the number of rows: explicit columns or joins, never a
  per-row query or a lazy load. `tests/services/test_query_count.py` holds us to it.
- Every result carries `as_of` (the `now` argument, or the current UTC time) so that cached results
  can show their age.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement, Label

from dashboard.db.models import TradingAccount
from dashboard.schemas.common import ReadModel
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.viewer import Viewer

E = TypeVar("E", bound=StrEnum)
S = TypeVar("S", bound=Select[Any])


def resolve_now(now: datetime | None) -> datetime:
    """`now` as aware UTC (the current time when omitted). Naive values are refused: SQLite would
    silently read them as UTC and the age and staleness maths would be off by the local offset."""
    if now is None:
        return datetime.now(UTC)
    return require_aware(now, "now")


def require_aware(value: datetime, field: str) -> datetime:
    """An aware datetime converted to UTC, or `InvalidInput` naming `field`."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must be timezone-aware (UTC)", field=field)
    return value.astimezone(UTC)


def check_limit(value: int, field: str, maximum: int, minimum: int = 1) -> int:
    """Bound a page size: an unbounded read is a denial of service on a shared database."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(f"{field} must be an integer between {minimum} and {maximum}", field=field)
    return value


def parse_enum(enum_cls: type[E], value: E | str | None, field: str) -> E | None:
    """Accept an enum member or its string value; anything else is `InvalidInput` naming `field`."""
    if value is None:
        return None
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise InvalidInput(f"{field} must be one of: {allowed}", field=field) from None


def scoped(stmt: S, owner_column: InstrumentedAttribute[Any], viewer: Viewer) -> S:
    """Add the ownership filter unless the viewer sees all.

    The filter is left out (rather than replaced by `TRUE`) for risk and admin so that the planner
    picks the global indexes, e.g. `(created_at)` instead of `(user_id, created_at)`.
    """
    owner = viewer.owner_filter
    if owner is None:
        return stmt
    return stmt.where(owner_column == owner)


async def ensure_account_visible(session: AsyncSession, viewer: Viewer, account_id: int) -> None:
    """Primary-key probe used when a read is narrowed to one account.

    Without it an invisible account and a visible account with no rows would both give an empty
    list; the API must answer 404 for the first, identically to a non-existent id.
    """
    stmt = scoped(
        select(TradingAccount.id).where(TradingAccount.id == account_id), TradingAccount.user_id, viewer
    )
    if (await session.execute(stmt)).scalar_one_or_none() is None:
        raise NotFound(f"account {account_id} not found")


def model_columns(
    model: type[ReadModel],
    sources: Sequence[Any],
    overrides: Mapping[str, ColumnElement[Any] | InstrumentedAttribute[Any]] | None = None,
    skip: Iterable[str] = (),
) -> list[Label[Any]]:
    """Explicit, labelled columns for every field of `model`, taken from the first mapped class in
    `sources` that has a column of that name (or from `overrides`).

    Selecting columns rather than ORM entities keeps reads free of the identity map and of any lazy
    load, and a field added to a schema without a matching column fails loudly here at import time.
    """
    overrides = overrides or {}
    skipped = set(skip)
    columns: list[Label[Any]] = []
    for name in model.model_fields:
        if name in skipped:
            continue
        column: Any = overrides.get(name)
        if column is None:
            for source in sources:
                if name in source.__table__.c:
                    column = getattr(source, name)
                    break
        if column is None:
            raise LookupError(f"{model.__name__}.{name} has no column in {list(sources)}")
        columns.append(column.label(name))
    return columns
