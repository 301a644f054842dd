"""A cached value's content: what was found, without when it was read. Pages compare it to tell
"the cache reloaded" from "the data changed"; a moving window bound counts as a reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.cache.local import CachedValue
from dashboard.cache.queries import Cached
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.reconciliation import DivergenceTimeline

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def timeline(read_at: datetime, *, truncated: bool = False) -> Cached[DivergenceTimeline]:
    model = DivergenceTimeline(
        since=read_at - timedelta(hours=1),
        until=read_at,
        account_id=None,
        incidents=[],
        truncated=truncated,
        as_of=read_at,
    )
    return Cached(CachedValue(model.model_dump_json().encode()), DivergenceTimeline)


def test_two_reads_of_the_same_data_have_the_same_content() -> None:
    first, second = timeline(T0), timeline(T0 + timedelta(seconds=5))
    assert first.payload != second.payload  # as_of and the window's bounds moved
    assert first.content == second.content
    assert first.as_of == T0 and second.as_of == T0 + timedelta(seconds=5)


def test_different_data_has_different_content() -> None:
    assert timeline(T0).content != timeline(T0, truncated=True).content


def test_other_models_leave_out_only_their_as_of() -> None:
    payload = AccountList(accounts=[], as_of=T0).model_dump_json().encode()
    value = CachedValue(payload)
    assert (
        value.content(AccountList)
        == AccountList(accounts=[], as_of=T0 + timedelta(1)).model_dump_json(exclude={"as_of"}).encode()
    )
    assert value.content(AccountList) is value.content(AccountList)  # computed once, shared
