"""Keys: namespaced, versioned, scoped by visibility, and changed by any change of the model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.cache.keys import cache_key, channel, generation_key, schema_tag
from dashboard.domain.enums import Role, Side
from dashboard.schemas.common import ReadModel
from dashboard.schemas.reconciliation import ReconciliationStatus
from dashboard.services.viewer import Viewer

TRADER_A = Viewer(1, Role.TRADER)
TRADER_B = Viewer(2, Role.TRADER)
RISK = Viewer(3, Role.RISK)
ADMIN = Viewer(4, Role.ADMIN)


def test_key_format_is_namespaced_versioned_and_scoped() -> None:
    key = cache_key("positions", TRADER_A, ReconciliationStatus, symbol="EURUSD", side=Side.BUY)
    name = key.redis_key("tb")
    assert name.startswith("tb:v1:positions:u1:s1-")
    assert name.endswith(":side=buy,symbol=EURUSD")


def test_scopes_never_collide_between_traders_or_with_the_wide_view() -> None:
    keys = {
        cache_key("positions", viewer, ReconciliationStatus).redis_key("tb")
        for viewer in (TRADER_A, TRADER_B, RISK)
    }
    assert len(keys) == 3
    # Risk and admin see the same rows, so they share one key.
    assert cache_key("positions", RISK, ReconciliationStatus) == cache_key(
        "positions", ADMIN, ReconciliationStatus
    )


def test_parameter_order_does_not_matter_and_values_are_quoted() -> None:
    first = cache_key("timeline", RISK, ReconciliationStatus, a=1, b="x:y,z")
    second = cache_key("timeline", RISK, ReconciliationStatus, b="x:y,z", a=1)
    assert first == second
    assert first.params == "a=1,b=x%3Ay%2Cz"  # a value cannot forge another parameter or scope


def test_long_parameter_lists_are_hashed_but_stay_distinct() -> None:
    one = cache_key("timeline", RISK, ReconciliationStatus, symbol="A" * 200)
    two = cache_key("timeline", RISK, ReconciliationStatus, symbol="B" * 200)
    assert one.params.startswith("h") and len(one.params) == 33
    assert one != two


def test_datetimes_must_be_aware_and_windows_are_keyed_in_seconds() -> None:
    with pytest.raises(ValueError):
        cache_key("timeline", RISK, ReconciliationStatus, since=datetime(2026, 1, 1))
    key = cache_key(
        "timeline",
        RISK,
        ReconciliationStatus,
        since=datetime(2026, 1, 1, tzinfo=UTC),
        window=timedelta(hours=24),
    )
    assert "window=86400s" in key.params and "since=2026-01-01T00%3A00%3A00%2B00%3A00" in key.params


def test_a_changed_model_gets_a_different_schema_tag_even_without_a_version_bump() -> None:
    class Before(ReadModel):
        total: int

    class After(ReadModel):
        total: int
        extra: str

    class Bumped(ReadModel):
        total: int

    Bumped.SCHEMA_VERSION = 2
    assert schema_tag(Before) != schema_tag(After)
    assert schema_tag(Bumped).startswith("s2-") and schema_tag(Before).startswith("s1-")


def test_colon_in_family_or_scope_is_refused() -> None:
    with pytest.raises(ValueError):
        cache_key("bad:family", RISK, ReconciliationStatus)


def test_generation_and_channel_names() -> None:
    assert generation_key("tb", "positions", "u7") == "tb:v1:gen:positions:u7"
    assert generation_key("tb", "market", None) == "tb:v1:gen:market:*"
    assert channel("tb") == "tb:v1:invalidate"
