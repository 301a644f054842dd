"""Incident ages and time to resolve (`domain.incident_stats`) against hand-computed cases.

Nearest rank: the p-th percentile of n sorted values is the one at rank ceil(p * n / 100).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.domain.enums import DivergenceKind, IncidentState, Resolution, Severity
from dashboard.domain.incident_stats import IncidentTiming, Spread, incident_stats, nearest_rank, seconds
from dashboard.domain.numbers import DomainError
from dashboard.domain.reconciliation import (
    Divergence,
    PersonResolved,
    incident_state,
    plan_incidents,
    plan_reopens,
)

D = Decimal
NOW = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
VOL = DivergenceKind.VOLUME_MISMATCH
MISSING = DivergenceKind.MISSING_AT_BROKER


def ago(**span: float) -> datetime:
    return NOW - timedelta(**span)


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        # n=1: rank ceil(0.5)=1 and ceil(0.9)=1.
        ([D(7)], D(7), D(7)),
        # n=4 (given unsorted): median rank ceil(2)=2 -> 20 (the lower middle), p90 rank ceil(3.6)=4 -> 40.
        ([D(40), D(10), D(30), D(20)], D(20), D(40)),
        # n=5: median rank ceil(2.5)=3 -> 3, p90 rank ceil(4.5)=5 -> 100.
        ([D(1), D(2), D(3), D(4), D(100)], D(3), D(100)),
        # n=10 (1..10): median rank 5 -> 5, p90 rank 9 -> 9.
        ([D(n) for n in range(1, 11)], D(5), D(9)),
        # n=11 (1..11): median rank ceil(5.5)=6 -> 6, p90 rank ceil(9.9)=10 -> 10.
        ([D(n) for n in range(1, 12)], D(6), D(10)),
    ],
)
def test_nearest_rank_median_and_p90(values: list[Decimal], median: Decimal, p90: Decimal) -> None:
    assert nearest_rank(values, 50) == median
    assert nearest_rank(values, 90) == p90
    assert Spread.of(values) == Spread(len(values), median, p90)


def test_nearest_rank_of_nothing_and_bad_percentiles() -> None:
    assert nearest_rank([], 50) is None
    assert Spread.of([]) == Spread(0, None, None)
    for wrong in (0, 101, -5):
        with pytest.raises(DomainError):
            nearest_rank([D(1)], wrong)


def test_seconds_are_exact_to_the_microsecond() -> None:
    assert seconds(timedelta(days=1, seconds=3, microseconds=250_000)) == D("86403.25")
    assert seconds(timedelta(microseconds=1)) == D("0.000001")
    assert seconds(timedelta(hours=-1)) == D(-3600)


def test_ages_and_time_to_resolve_by_kind_and_account() -> None:
    timings = [
        # Open now: ages 600 s, 1800 s (volume, account 1) and 7200 s (missing, account 2).
        IncidentTiming(VOL, 1, ago(minutes=10), None),
        IncidentTiming(VOL, 1, ago(minutes=30), None),
        IncidentTiming(MISSING, 2, ago(hours=2), None),
        # Resolved in the window: 60 s and 300 s (volume, account 1), 3600 s (missing, account 2).
        IncidentTiming(VOL, 1, ago(hours=5), ago(hours=5) + timedelta(seconds=60)),
        IncidentTiming(VOL, 1, ago(days=3), ago(days=3) + timedelta(seconds=300)),
        IncidentTiming(MISSING, 2, ago(days=6, hours=1), ago(days=6)),
        # Resolved before the window (8 days ago): not counted anywhere, not even as a group.
        IncidentTiming(DivergenceKind.TP_MISMATCH, 3, ago(days=9), ago(days=8)),
    ]
    result = incident_stats(timings, NOW, SINCE)
    # Overall ages [600, 1800, 7200]: median rank 2 -> 1800, p90 rank 3 -> 7200.
    assert result.overall.open == Spread(3, D(1800), D(7200))
    # Overall to resolve [60, 300, 3600]: median 300, p90 3600.
    assert result.overall.resolved == Spread(3, D(300), D(3600))
    assert set(result.by_kind) == {VOL, MISSING}
    # Volume ages [600, 1800]: median rank 1 -> 600, p90 rank 2 -> 1800; to resolve [60, 300].
    assert result.by_kind[VOL].open == Spread(2, D(600), D(1800))
    assert result.by_kind[VOL].resolved == Spread(2, D(60), D(300))
    assert result.by_kind[MISSING].open == Spread(1, D(7200), D(7200))
    assert result.by_kind[MISSING].resolved == Spread(1, D(3600), D(3600))
    assert set(result.by_account) == {1, 2}
    assert result.by_account[1] == result.by_kind[VOL]
    assert result.by_account[2] == result.by_kind[MISSING]


def test_window_edges_future_openings_and_clock_skew() -> None:
    timings = [
        IncidentTiming(VOL, 1, SINCE - timedelta(hours=1), SINCE),  # resolved exactly at `since`: in
        IncidentTiming(VOL, 1, SINCE - timedelta(hours=1), SINCE - timedelta(microseconds=1)),  # out
        IncidentTiming(VOL, 1, NOW + timedelta(seconds=5), None),  # opened after now: left out
        IncidentTiming(VOL, 1, ago(seconds=10), ago(seconds=20)),  # resolved "before" opened: 0 s
    ]
    result = incident_stats(timings, NOW, SINCE)
    assert result.overall.open == Spread(0, None, None)
    assert result.overall.resolved == Spread(2, D(0), D(3600))


def test_naive_times_and_an_inverted_window_are_refused() -> None:
    with pytest.raises(DomainError):
        IncidentTiming(VOL, 1, datetime(2026, 11, 9, 12, 0), None)
    with pytest.raises(DomainError):
        incident_stats([], SINCE, NOW)


@pytest.mark.parametrize(
    ("resolution", "acknowledged", "state"),
    [
        (Resolution.OPEN, None, IncidentState.OPEN),
        (Resolution.OPEN, NOW, IncidentState.ACKNOWLEDGED),
        (Resolution.MANUAL, None, IncidentState.RESOLVED),
        (Resolution.BROKER_WINS, NOW, IncidentState.RESOLVED),
        ("open", None, IncidentState.OPEN),
    ],
)
def test_incident_state_is_derived_from_resolution_then_acknowledgement(
    resolution: Resolution, acknowledged: datetime | None, state: IncidentState
) -> None:
    assert incident_state(resolution, acknowledged) is state


# ---- reopening what a person resolved (`plan_reopens`), the other pure half of incidents as work


def _divergence(identifier: int, kind: DivergenceKind) -> Divergence:
    return Divergence(kind, Severity.WARNING, identifier, None, "EURUSD", "1", "2", Resolution.BROKER_WINS)


def test_plan_reopens_moves_matching_new_divergences_only() -> None:
    vol_7, missing_7, vol_8 = _divergence(7, VOL), _divergence(7, MISSING), _divergence(8, VOL)
    plan = plan_incidents([], [vol_7, missing_7, vol_8])
    assert plan.new == [vol_7, missing_7, vol_8]
    # A person resolved (7, volume) twice over the years (ids 3 and 11: the newest is reopened) and
    # (9, volume), which this sync does not see; (7, missing) was never theirs.
    resolved = [PersonResolved(3, VOL, 7), PersonResolved(11, VOL, 7), PersonResolved(5, VOL, 9)]
    reopened = plan_reopens(plan, resolved)
    assert reopened.new == [missing_7, vol_8]
    assert reopened.reopened == [(PersonResolved(11, VOL, 7), vol_7)]


def test_plan_reopens_without_candidates_is_the_same_plan() -> None:
    plan = plan_incidents([], [_divergence(7, VOL)])
    assert plan_reopens(plan, []) is plan
    empty = plan_incidents([], [])
    assert plan_reopens(empty, [PersonResolved(1, VOL, 7)]) is empty
