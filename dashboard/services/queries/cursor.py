"""Keyset pagination: an opaque cursor naming the last row of a page, `(timestamp, id)`.

Every detail list (incidents, sync events, guard events, closed positions) is ordered newest
first by `(timestamp DESC, id DESC)` and continues strictly after the row the cursor names. Unlike
OFFSET, a page costs the same on page 1 and page 10,000 (an index range from the cursor on), and
rows arriving while somebody pages do not shift or repeat rows. The cursor carries both values
rather than the id alone so that the next page needs no lookup of the previous row, which on a
table partitioned by time would probe every partition.

A cursor is not a secret and needs no signature: it only bounds a query that is scoped to the
viewer anyway, so a forged one can at most skip rows the viewer may see.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from dashboard.schemas.common import EARLIEST, LATEST
from dashboard.services.errors import InvalidInput

#: Longest cursor accepted: an ISO timestamp, a separator and an id, base64-encoded, with room.
MAX_CURSOR_LENGTH = 96


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last row of a page: its timestamp (aware UTC) and its id."""

    at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.at.astimezone(UTC).isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None, field: str = "cursor") -> Cursor | None:
    """The cursor a client sent back, or `InvalidInput` naming `field` for anything we did not make."""
    if value is None:
        return None
    problem = InvalidInput(f"{field} is not a cursor from a previous page", field=field)
    if not value or len(value) > MAX_CURSOR_LENGTH:
        raise problem
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, _, ident = text.partition("|")
        at = datetime.fromisoformat(stamp)
        row_id = int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise problem from None
    if at.tzinfo is None or not EARLIEST <= at < LATEST or row_id < 0 or row_id >= 2**63:
        raise problem
    return Cursor(at.astimezone(UTC), row_id)


def older_than(stamp: Any, ident: Any, cursor: Cursor) -> ColumnElement[bool]:
    """Rows after `cursor` in `(stamp DESC, ident DESC)` order. Written as OR/AND rather than a
    row comparison so that both backends plan it on their `(…, stamp)` indexes."""
    return or_(stamp < cursor.at, and_(stamp == cursor.at, ident < cursor.id))


def next_cursor(rows: Sequence[Any], limit: int, stamp: str, ident: str = "id") -> str | None:
    """The cursor after the last of `limit` rows when the query found one more (fetch `limit + 1`)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return Cursor(getattr(last, stamp), getattr(last, ident)).encode()
