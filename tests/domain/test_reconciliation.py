from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.domain.enums import (
    CloseReason,
    DealReason,
    DivergenceKind,
    MarginMode,
    PositionSource,
    Resolution,
    Severity,
    Side,
    StopsPolicy,
    SyncStatus,
)
from dashboard.domain.instruments import DEMO_INSTRUMENTS
from dashboard.domain.numbers import DomainError
from dashboard.domain.reconciliation import (
    BrokerPosition,
    Divergence,
    ExitDeal,
    LocalPosition,
    OpenIncident,
    plan_incidents,
    reconcile,
    stop_or_none,
)

D = Decimal
NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)
OLD = NOW - timedelta(minutes=10)
PLATFORM_MAGIC = 777


def local(ident, symbol, side, volume, price, sl=None, tp=None, updated_at=OLD, ticket=None):
    return LocalPosition(
        position_id=ident + 1000,
        identifier=ident,
        ticket=ticket or ident,
        symbol=symbol,
        side=side,
        volume=D(volume),
        price_open=D(price),
        sl=None if sl is None else D(sl),
        tp=None if tp is None else D(tp),
        updated_at=updated_at,
    )


def broker(ident, symbol, side, volume, price, sl="0.0", tp="0.0", magic=PLATFORM_MAGIC, ticket=None):
    return BrokerPosition(
        identifier=ident,
        ticket=ticket or ident,
        symbol=symbol,
        side=side,
        volume=D(volume),
        price_open=D(price),
        price_current=D(price),
        sl=D(sl),
        tp=D(tp),
        swap=D(0),
        profit=D(0),
        magic=magic,
        opened_at=OLD,
    )


def fixture_5_9(updated_104=OLD):
    locals_ = [
        local(101, "EURUSD", Side.BUY, "1.00", "1.08500", sl="1.08000", tp="1.09500"),
        local(102, "XAUUSD", Side.SELL, "0.50", "2350.00"),
        local(103, "US30", Side.BUY, "2.00", "39000.0"),
        local(104, "GBPUSD", Side.BUY, "0.30", "1.27000", sl="1.26000", updated_at=updated_104),
        local(105, "USDJPY", Side.SELL, "1.00", "155.000"),
    ]
    brokers = [
        broker(101, "EURUSD", Side.BUY, "1.00", "1.08500", sl="1.08000", tp="1.09500"),
        broker(102, "XAUUSD", Side.SELL, "0.30", "2350.00"),
        broker(104, "GBPUSD", Side.BUY, "0.30", "1.27000", sl="1.26500"),
        broker(201, "BTCUSD", Side.BUY, "0.10", "60000.00", magic=0),
    ]
    deals = {
        103: ExitDeal(
            103, DealReason.SL, D("38950.0"), D("-100.00"), D(0), D("-1.00"), NOW - timedelta(minutes=1)
        )
    }
    return locals_, brokers, deals


def run(locals_, brokers, deals=None, **kw):
    return reconcile(
        locals_, brokers, deals or {}, DEMO_INSTRUMENTS, NOW, platform_magic=PLATFORM_MAGIC, **kw
    )


def by_ident(result):
    return {d.identifier: d for d in result.divergences}


# --- docs/domain.md §6.9 fixture ------------------------------------------------------------------------


def test_fixture_counts():
    result = run(*fixture_5_9())
    assert result.broker_positions == 4
    assert result.local_positions == 5
    assert result.matched_positions == 1
    assert len(result.divergences) == 5
    assert result.status is SyncStatus.DIVERGENT
    assert result.skipped == []


# (identifier, kind, severity, local_value, broker_value, action)
FIXTURE_ROWS = [
    (102, DivergenceKind.VOLUME_MISMATCH, Severity.WARNING, "0.50", "0.30", Resolution.BROKER_WINS),
    (
        103,
        DivergenceKind.CLOSED_AT_BROKER,
        Severity.INFO,
        "buy 2.00 @ 39000.0",
        "closed sl @ 38950.0",
        Resolution.CLOSED_LOCALLY,
    ),
    (104, DivergenceKind.SL_MISMATCH, Severity.WARNING, "1.26000", "1.26500", Resolution.BROKER_WINS),
    (
        105,
        DivergenceKind.MISSING_AT_BROKER,
        Severity.CRITICAL,
        "sell 1.00 @ 155.000",
        None,
        Resolution.MANUAL,
    ),
    (
        201,
        DivergenceKind.UNEXPECTED_AT_BROKER,
        Severity.WARNING,
        None,
        "buy 0.10 @ 60000.00",
        Resolution.ADOPTED_EXTERNAL,
    ),
]


@pytest.mark.parametrize(("ident", "kind", "severity", "local_value", "broker_value", "action"), FIXTURE_ROWS)
def test_fixture_rows(ident, kind, severity, local_value, broker_value, action):
    d = by_ident(run(*fixture_5_9()))[ident]
    assert d.kind is kind
    assert d.severity is severity
    assert d.local_value == local_value
    assert d.broker_value == broker_value
    assert d.action is action
    assert d.position_id == (None if ident == 201 else ident + 1000)


def test_fixture_close_reason_and_source():
    divs = by_ident(run(*fixture_5_9()))
    assert divs[103].close_reason is CloseReason.SL
    assert divs[201].source is PositionSource.EXTERNAL
    assert divs[201].symbol == "BTCUSD"
    assert all(divs[i].close_reason is None for i in (102, 104, 105, 201))


def test_fixture_sl_policy_platform_wins_resends():
    d = by_ident(run(*fixture_5_9(), stops_policy=StopsPolicy.PLATFORM_WINS))[104]
    assert d.action is Resolution.RESENT_TO_BROKER


def test_race_guard_variant_skips_104():
    result = run(*fixture_5_9(updated_104=NOW - timedelta(seconds=2)))
    assert result.skipped == [104]
    assert len(result.divergences) == 4
    assert 104 not in by_ident(result)
    assert result.matched_positions == 1


def test_race_window_boundary_is_exclusive():
    result = run(*fixture_5_9(updated_104=NOW - timedelta(seconds=5)))
    assert result.skipped == []
    assert len(result.divergences) == 5


def test_race_guard_also_covers_local_only_positions():
    locals_, brokers, deals = fixture_5_9()
    locals_[4] = replace(locals_[4], updated_at=NOW - timedelta(seconds=1))  # 105
    result = run(locals_, brokers, deals)
    assert result.skipped == [105]
    assert 105 not in by_ident(result)


def test_failed_sync_is_the_callers_job_and_keeps_incidents_open():
    # A failed broker query never reaches reconcile(); the caller logs sync_failed and skips planning.
    # If it did plan with no observation while every identifier was skipped, nothing would resolve:
    incidents = [OpenIncident(1, DivergenceKind.MISSING_AT_BROKER, 105, 1, Resolution.MANUAL)]
    plan = plan_incidents(incidents, [], skipped_identifiers={105})
    assert (plan.new, plan.seen_again, plan.resolved, plan.escalated) == ([], [], [], [])


def test_all_clean_is_ok():
    locals_ = [local(1, "EURUSD", Side.BUY, "1.00", "1.08500", sl="1.08")]
    brokers = [broker(1, "EURUSD", Side.BUY, "1.00", "1.08500", sl="1.08000")]
    result = run(locals_, brokers)
    assert result.status is SyncStatus.OK
    assert result.matched_positions == 1
    assert result.divergences == []


def test_netting_refused():
    with pytest.raises(DomainError, match="netting reconciliation not supported yet"):
        run(*fixture_5_9(), margin_mode=MarginMode.NETTING)


def test_naive_now_refused():
    with pytest.raises(DomainError):
        reconcile([], [], {}, DEMO_INSTRUMENTS, datetime(2024, 1, 1))


def test_duplicate_identifier_refused():
    p = local(1, "EURUSD", Side.BUY, "1", "1.1")
    with pytest.raises(DomainError):
        run([p, p], [])


# --- single-field cases -------------------------------------------------------------------------------


def pair(local_kw=None, broker_kw=None):
    lk = {"ident": 7, "symbol": "EURUSD", "side": Side.BUY, "volume": "1.00", "price": "1.08500"} | (
        local_kw or {}
    )
    bk = {"ident": 7, "symbol": "EURUSD", "side": Side.BUY, "volume": "1.00", "price": "1.08500"} | (
        broker_kw or {}
    )
    return run([local(**lk)], [broker(**bk)])


def test_side_mismatch_is_critical():
    result = pair(broker_kw={"side": Side.SELL})
    (d,) = result.divergences
    assert (d.kind, d.severity, d.action) == (
        DivergenceKind.SIDE_MISMATCH,
        Severity.CRITICAL,
        Resolution.BROKER_WINS,
    )
    assert (d.local_value, d.broker_value) == ("buy", "sell")
    assert result.matched_positions == 0


def test_ticket_changed_is_info():
    (d,) = pair(local_kw={"ticket": 500}, broker_kw={"ticket": 501}).divergences
    assert (d.kind, d.severity) == (DivergenceKind.TICKET_CHANGED, Severity.INFO)
    assert (d.local_value, d.broker_value) == ("500", "501")


@pytest.mark.parametrize(
    ("local_symbol", "broker_symbol"), [("XAUUSD", "GOLD"), ("XAUUSD", "XAUUSDm"), ("NAS100", "USTEC.cash")]
)
def test_symbol_aliases_are_not_divergences(local_symbol, broker_symbol):
    price = "2350.00"
    result = pair({"symbol": local_symbol, "price": price}, {"symbol": broker_symbol, "price": price})
    assert result.divergences == []
    assert result.matched_positions == 1


def test_symbol_mismatch_is_info_ignored():
    result = pair({"symbol": "XAUUSD", "price": "1.08500"}, {"symbol": "XAUEUR", "price": "1.08500"})
    (d,) = result.divergences
    assert (d.kind, d.severity, d.action) == (
        DivergenceKind.SYMBOL_MISMATCH,
        Severity.INFO,
        Resolution.IGNORED,
    )
    assert (d.local_value, d.broker_value) == ("XAUUSD", "XAUEUR")


@pytest.mark.parametrize(
    ("local_sl", "broker_sl"), [(None, "0.0"), (None, "0"), ("1.08000", "1.08"), ("1.080001", "1.08")]
)
def test_sl_zero_and_none_are_equal_after_rounding(local_sl, broker_sl):
    assert pair({"sl": local_sl}, {"sl": broker_sl}).divergences == []


def test_broker_without_sl_is_critical():
    (d,) = pair({"sl": "1.08000"}, {"sl": "0.0"}).divergences
    assert (d.kind, d.severity) == (DivergenceKind.SL_MISMATCH, Severity.CRITICAL)
    assert (d.local_value, d.broker_value) == ("1.08000", None)


def test_broker_sl_where_local_has_none_is_warning():
    (d,) = pair({"sl": None}, {"sl": "1.08000"}).divergences
    assert d.severity is Severity.WARNING


def test_tp_missing_at_broker_is_only_warning():
    (d,) = pair({"tp": "1.09500"}, {"tp": "0.0"}).divergences
    assert (d.kind, d.severity) == (DivergenceKind.TP_MISMATCH, Severity.WARNING)


@pytest.mark.parametrize(
    ("broker_volume", "diverges"),
    [("1.005", True), ("0.995", True), ("1.0049", False), ("0.9951", False), ("1.01", True)],
)
def test_volume_tolerance_is_half_a_step(broker_volume, diverges):
    # volume_step 0.01: |Δ| >= 0.005 is a mismatch, exactly at the boundary included (docs/domain.md §7.7)
    kinds = [d.kind for d in pair(broker_kw={"volume": broker_volume}).divergences]
    assert (DivergenceKind.VOLUME_MISMATCH in kinds) is diverges


@pytest.mark.parametrize(
    ("symbol", "local_price", "broker_price", "diverges"),
    [
        ("EURUSD", "1.08500", "1.08510", False),  # 0.0001 <= 0.01 % of 1.0851 (0.00010851)
        ("EURUSD", "1.08500", "1.08512", True),
        ("XAUUSD", "2350.00", "2350.23", False),  # 0.01 % = 0.235
        ("XAUUSD", "2350.00", "2350.24", True),
        ("USDJPY", "155.000", "155.015", False),  # 0.01 % = 0.0155
        ("USDJPY", "155.000", "155.016", True),
    ],
)
def test_price_open_tolerance(symbol, local_price, broker_price, diverges):
    result = pair({"symbol": symbol, "price": local_price}, {"symbol": symbol, "price": broker_price})
    found = [d for d in result.divergences if d.kind is DivergenceKind.PRICE_OPEN_MISMATCH]
    assert bool(found) is diverges
    if found:
        assert found[0].severity is Severity.INFO
        assert (found[0].local_value, found[0].broker_value) == (local_price, broker_price)


def test_price_open_half_point_floor():
    # tiny price: 0.01 % is below half a point, so half a point (0.005 at 2 digits) is the tolerance
    from dashboard.domain.instruments import InstrumentSpec

    spec = InstrumentSpec("TINY", "index", D(1), 2, D("0.01"), "USD", D(0), D(0))
    loc = local(1, "TINY", Side.BUY, "1", "10.00")
    ok = broker(1, "TINY", Side.BUY, "1", "10.005")
    bad = broker(1, "TINY", Side.BUY, "1", "10.006")
    assert reconcile([loc], [ok], {}, {"TINY": spec}, NOW).divergences == []
    assert (
        reconcile([loc], [bad], {}, {"TINY": spec}, NOW).divergences[0].kind
        is DivergenceKind.PRICE_OPEN_MISMATCH
    )


@pytest.mark.parametrize(
    ("reason", "close_reason", "severity"),
    [
        (DealReason.SL, CloseReason.SL, Severity.INFO),
        (DealReason.TP, CloseReason.TP, Severity.INFO),
        (DealReason.CLIENT, CloseReason.MANUAL, Severity.WARNING),
        (DealReason.EXPERT, CloseReason.MANUAL, Severity.WARNING),
        (DealReason.SO, CloseReason.STOP_OUT, Severity.CRITICAL),
    ],
)
def test_closed_at_broker_severity_by_reason(reason, close_reason, severity):
    deal = ExitDeal(9, reason, D("1.1"), D(0), D(0), D(0), NOW)
    (d,) = run([local(9, "EURUSD", Side.BUY, "1", "1.08500")], [], {9: deal}).divergences
    assert (d.kind, d.close_reason, d.severity) == (DivergenceKind.CLOSED_AT_BROKER, close_reason, severity)


def test_expert_close_by_platform_ea_is_signal():
    deal = ExitDeal(9, DealReason.EXPERT, D("1.1"), D(0), D(0), D(0), NOW, magic=PLATFORM_MAGIC)
    (d,) = run([local(9, "EURUSD", Side.BUY, "1", "1.08500")], [], {9: deal}).divergences
    assert d.close_reason is CloseReason.SIGNAL


def test_unexpected_with_platform_magic_is_platform_source():
    (d,) = run([], [broker(9, "EURUSD", Side.BUY, "1", "1.08500", magic=PLATFORM_MAGIC)]).divergences
    assert d.source is PositionSource.PLATFORM
    assert d.action is Resolution.ADOPTED_EXTERNAL


def test_unknown_symbol_does_not_abort_the_sync():
    (d,) = run([], [broker(9, "XAGUSD.r", Side.BUY, "0.5", "29.123")]).divergences
    assert d.symbol == "XAGUSD"
    assert d.broker_value == "buy 0.50 @ 29.123"


def test_stop_or_none():
    assert stop_or_none(None) is None
    assert stop_or_none(D("0.0")) is None
    assert stop_or_none("1.1") == D("1.1")
    assert BrokerPosition.stop_or_none(0) is None
    with pytest.raises(TypeError):
        stop_or_none(0.0)


@pytest.mark.parametrize("volume", ["0", "-0.10"])
def test_positions_reject_non_positive_volume(volume):
    with pytest.raises(DomainError):
        local(1, "EURUSD", Side.BUY, volume, "1.1")


def test_positions_reject_naive_datetimes():
    with pytest.raises(DomainError):
        local(1, "EURUSD", Side.BUY, "1", "1.1", updated_at=datetime(2024, 1, 1))


# --- incident lifecycle --------------------------------------------------------------------------------


def div(ident, kind, action=Resolution.BROKER_WINS):
    return Divergence(kind, Severity.WARNING, ident, ident, "EURUSD", None, None, action)


def test_plan_new_incidents_from_fixture():
    result = run(*fixture_5_9())
    plan = plan_incidents([], result.divergences)
    assert len(plan.new) == 5
    assert plan.seen_again == plan.resolved == plan.escalated == []


def test_repeated_observation_is_not_recounted():
    inc = OpenIncident(1, DivergenceKind.VOLUME_MISMATCH, 102, 1, Resolution.BROKER_WINS)
    observed = div(102, DivergenceKind.VOLUME_MISMATCH)
    plan = plan_incidents([inc], [observed])
    assert plan.new == []
    assert plan.seen_again == [(inc, observed)]
    assert plan.resolved == []


def test_same_identifier_other_kind_is_new():
    inc = OpenIncident(1, DivergenceKind.VOLUME_MISMATCH, 102, 1, Resolution.BROKER_WINS)
    observed = [div(102, DivergenceKind.VOLUME_MISMATCH), div(102, DivergenceKind.SL_MISMATCH)]
    plan = plan_incidents([inc], observed)
    assert [d.kind for d in plan.new] == [DivergenceKind.SL_MISMATCH]


def test_resolved_when_gone():
    inc = OpenIncident(1, DivergenceKind.VOLUME_MISMATCH, 102, 2, Resolution.BROKER_WINS)
    plan = plan_incidents([inc], [])
    assert plan.resolved == [inc]
    assert plan.resolved[0].action is Resolution.BROKER_WINS


def test_skipped_identifier_stays_open_untouched():
    incs = [
        OpenIncident(1, DivergenceKind.SL_MISMATCH, 104, 1, Resolution.BROKER_WINS),
        OpenIncident(2, DivergenceKind.VOLUME_MISMATCH, 102, 1, Resolution.BROKER_WINS),
    ]
    plan = plan_incidents(incs, [], skipped_identifiers=[104])
    assert plan.resolved == [incs[1]]


def test_missing_at_broker_escalates_once_after_three_syncs_and_stays_open():
    observed = [
        Divergence(
            DivergenceKind.MISSING_AT_BROKER,
            Severity.CRITICAL,
            105,
            1105,
            "USDJPY",
            None,
            None,
            Resolution.MANUAL,
        )
    ]
    plan1 = plan_incidents([], observed)
    assert len(plan1.new) == 1  # occurrence 1
    escalations = []
    for stored_occurrences in (1, 2, 3, 4):  # syncs 2..5
        inc = OpenIncident(9, DivergenceKind.MISSING_AT_BROKER, 105, stored_occurrences, Resolution.MANUAL)
        plan = plan_incidents([inc], observed)
        assert plan.resolved == []
        assert len(plan.seen_again) == 1
        escalations.append(len(plan.escalated))
    assert escalations == [0, 1, 0, 0]  # reached 3 occurrences in sync 3, exactly once


def test_full_lifecycle_over_syncs_counts_incidents_not_observations():
    """Simulate the DB: 3 syncs observing the fixture, then the volume issue disappears."""
    stored: dict[tuple[int, DivergenceKind], OpenIncident] = {}
    created = 0
    next_id = 1
    observations_per_sync = []
    for sync in range(4):
        locals_, brokers, deals = fixture_5_9()
        if sync == 3:
            brokers[1] = broker(102, "XAUUSD", Side.SELL, "0.50", "2350.00")
        result = run(locals_, brokers, deals)
        observations_per_sync.append(len(result.divergences))
        plan = plan_incidents(list(stored.values()), result.divergences)
        for d in plan.new:
            stored[(d.identifier, d.kind)] = OpenIncident(next_id, d.kind, d.identifier, 1, d.action)
            next_id += 1
            created += 1
        for inc, _ in plan.seen_again:
            stored[(inc.identifier, inc.kind)] = replace(inc, occurrences=inc.occurrences + 1)
        for inc in plan.resolved:
            del stored[(inc.identifier, inc.kind)]
    assert observations_per_sync == [5, 5, 5, 4]
    assert created == 5  # not 19
    assert (102, DivergenceKind.VOLUME_MISMATCH) not in stored
    assert stored[(105, DivergenceKind.MISSING_AT_BROKER)].occurrences == 4


def test_plan_rejects_duplicate_observations_and_bad_threshold():
    d = div(1, DivergenceKind.SL_MISMATCH)
    with pytest.raises(DomainError):
        plan_incidents([], [d, d])
    with pytest.raises(DomainError):
        plan_incidents([], [], escalate_after=1)


def test_open_incident_coerces_db_strings():
    inc = OpenIncident(1, "missing_at_broker", 105, 2, "manual")
    assert inc.kind is DivergenceKind.MISSING_AT_BROKER
    assert inc.action is Resolution.MANUAL
    observed = [
        Divergence(
            DivergenceKind.MISSING_AT_BROKER,
            Severity.CRITICAL,
            105,
            1,
            "USDJPY",
            None,
            None,
            Resolution.MANUAL,
        )
    ]
    assert plan_incidents([inc], observed).escalated == [inc]
