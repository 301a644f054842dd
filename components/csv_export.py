"""CSV of exactly the rows a table shows, with the columns it shows (times in UTC ISO 8601)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any


def to_csv(
    columns: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], export_fields: dict[str, str]
) -> bytes:
    """`export_fields` maps a column name to the row key holding its export value (e.g. the UTC
    timestamp behind a local-time display); other columns export what they display."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c["label"] for c in columns])
    for row in rows:
        writer.writerow([row.get(export_fields.get(c["name"], c["field"]), "") for c in columns])
    return buffer.getvalue().encode()
