"""SQLAlchemy 2 models: the lean schema of docs/domain.md §4, plus market state and the audit log.

Conventions: every timestamp is `UTCDateTime`; money, prices and percentages are `Num` (Decimal);
enums are VARCHAR + CHECK (`native_enum=False`) so PostgreSQL never needs `ALTER TYPE`.
Denormalised `user_id` columns exist so that a trader's reads are one indexed range scan.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dashboard.db.types import BigIntPK, Money, Num, Pct, Price, UTCDateTime, Volume
from dashboard.domain.enums import (
    AccountStatus,
    AlertKind,
    AlertState,
    CloseReason,
    DailyLossBasis,
    DeliveryStatus,
    DivergenceKind,
    GuardState,
    GuardType,
    Level,
    MarginMode,
    MaxLossMode,
    PositionSource,
    PositionStatus,
    Resolution,
    Role,
    Severity,
    Side,
    StopsPolicy,
    SyncEventType,
    SyncStatus,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def str_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """VARCHAR + CHECK holding the enum's *values* (not member names)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Bumped on logout-everywhere / disable: tokens carrying an older version are refused.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Instrument(Base):
    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_class: Mapped[str] = mapped_column(String(16))
    contract_size: Mapped[Decimal] = mapped_column(Num(18, 4))
    digits: Mapped[int] = mapped_column(Integer)
    volume_step: Mapped[Decimal] = mapped_column(Volume())
    quote_ccy: Mapped[str] = mapped_column(String(3))
    typical_spread: Mapped[Decimal] = mapped_column(Price())
    annual_vol: Mapped[Decimal] = mapped_column(Pct())
    trading_days: Mapped[int] = mapped_column(Integer, default=252)


class TradingAccount(Base):
    __tablename__ = "trading_accounts"
    __table_args__ = (
        UniqueConstraint("broker_server", "broker_login"),
        Index(None, "user_id"),
        CheckConstraint("dd_warning_pct > 0 AND dd_warning_pct < dd_critical_pct", name="dd_thresholds"),
        CheckConstraint("leverage > 0", name="leverage_positive"),
        CheckConstraint("day_reset_hour >= 0 AND day_reset_hour < 24", name="reset_hour"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    broker_login: Mapped[int] = mapped_column(BigInteger)
    broker_server: Mapped[str] = mapped_column(String(80))
    margin_mode: Mapped[MarginMode] = mapped_column(str_enum(MarginMode, "margin_mode"))
    currency: Mapped[str] = mapped_column(String(3))
    leverage: Mapped[int] = mapped_column(Integer)
    initial_balance: Mapped[Decimal] = mapped_column(Money())
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    dd_warning_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal(10))
    dd_critical_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal(15))
    daily_loss_limit_pct: Mapped[Decimal | None] = mapped_column(Pct())
    max_loss_limit_pct: Mapped[Decimal | None] = mapped_column(Pct())
    daily_loss_basis: Mapped[DailyLossBasis] = mapped_column(
        str_enum(DailyLossBasis, "daily_loss_basis"), default=DailyLossBasis.MAX_SOD_BALANCE_EQUITY
    )
    max_loss_mode: Mapped[MaxLossMode] = mapped_column(
        str_enum(MaxLossMode, "max_loss_mode"), default=MaxLossMode.STATIC
    )
    day_reset_tz: Mapped[str] = mapped_column(String(64), default="UTC")
    day_reset_hour: Mapped[int] = mapped_column(Integer, default=0)
    stops_policy: Mapped[StopsPolicy] = mapped_column(
        str_enum(StopsPolicy, "stops_policy"), default=StopsPolicy.BROKER_WINS
    )
    platform_magic: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[AccountStatus] = mapped_column(
        str_enum(AccountStatus, "account_status"), default=AccountStatus.ACTIVE
    )
    # An active account with no sync and no equity snapshot for this long is "silent" (alerted).
    silence_timeout_s: Mapped[int] = mapped_column(Integer, default=300)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Prop-challenge objectives (all NULL: not a challenge). The loss limits above are its rule.
    prop_profit_target_pct: Mapped[Decimal | None] = mapped_column(Pct())
    prop_min_trading_days: Mapped[int | None] = mapped_column(Integer)
    prop_max_days: Mapped[int | None] = mapped_column(Integer)
    prop_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Position(Base):
    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("account_id", "broker_position_id"),
        Index(None, "user_id", "status", "symbol"),
        Index(None, "account_id", "status"),
        Index(None, "user_id", "opened_at"),
        Index(None, "user_id", "status", "closed_at"),
        Index(None, "status", "closed_at"),
        Index(None, "status", "symbol"),
        CheckConstraint("volume > 0", name="volume_positive"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    broker_ticket: Mapped[int] = mapped_column(BigInteger)
    broker_position_id: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[Side] = mapped_column(str_enum(Side, "side"))
    volume: Mapped[Decimal] = mapped_column(Volume())
    price_open: Mapped[Decimal] = mapped_column(Price())
    requested_price: Mapped[Decimal | None] = mapped_column(Price())
    price_current: Mapped[Decimal | None] = mapped_column(Price())
    sl: Mapped[Decimal | None] = mapped_column(Price())
    tp: Mapped[Decimal | None] = mapped_column(Price())
    swap: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    commission: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    profit: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    status: Mapped[PositionStatus] = mapped_column(str_enum(PositionStatus, "position_status"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_price: Mapped[Decimal | None] = mapped_column(Price())
    realized_pnl: Mapped[Decimal | None] = mapped_column(Money())
    close_reason: Mapped[CloseReason | None] = mapped_column(str_enum(CloseReason, "close_reason"))
    source: Mapped[PositionSource] = mapped_column(
        str_enum(PositionSource, "position_source"), default=PositionSource.PLATFORM
    )
    signal_ref: Mapped[str | None] = mapped_column(String(64))
    magic: Mapped[int] = mapped_column(BigInteger, default=0)
    # Last LOCAL activity (platform fills, modifications): the reconciliation race guard reads it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Last time reconciliation refreshed this row from the broker; not local activity.
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReconciliationLog(Base):
    """One sync, as reported. Append-only; kept `sync_log_retention_days` (its hourly counts and its
    incidents stay). On PostgreSQL partitioned by day on `created_at` (`dashboard.db.partitions`):
    there the primary key is (id, created_at), as a partitioned table's keys must hold the partition
    key; here it stays `id`, the one INTEGER PRIMARY KEY SQLite autoincrements (migration 0009;
    tests/db/test_schema.py checks exactly that difference). The unique key holds `created_at` on
    both for the same reason: a repeated sync id is found by (account_id, sync_id) under the
    account's lock, and the key backs that up for the same sync sent twice (same taken_at)."""

    __tablename__ = "reconciliation_logs"
    __table_args__ = (
        UniqueConstraint("account_id", "sync_id", "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "account_id", "created_at"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Client-supplied id: the same sync submitted twice is stored once.
    sync_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_type: Mapped[SyncEventType] = mapped_column(str_enum(SyncEventType, "sync_event_type"))
    status: Mapped[SyncStatus] = mapped_column(str_enum(SyncStatus, "sync_status"))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    broker_positions: Mapped[int] = mapped_column(Integer, default=0)
    local_positions: Mapped[int] = mapped_column(Integer, default=0)
    matched_positions: Mapped[int] = mapped_column(Integer, default=0)
    divergences: Mapped[int] = mapped_column(Integer, default=0)
    auto_resolved: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ReconciliationHourly(Base):
    """Sync counts per account, hour, kind and outcome, kept for the life of the account while the
    raw sync logs are pruned after `sync_log_retention_days`. Written by ingestion with each log,
    in its transaction, under the account's lock."""

    __tablename__ = "reconciliation_hourly"

    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_type: Mapped[SyncEventType] = mapped_column(
        str_enum(SyncEventType, "hourly_sync_event_type"), primary_key=True
    )
    status: Mapped[SyncStatus] = mapped_column(str_enum(SyncStatus, "hourly_sync_status"), primary_key=True)
    syncs: Mapped[int] = mapped_column(Integer)
    divergences: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(BigInteger)


class DivergenceIncident(Base):
    __tablename__ = "reconciliation_divergences"
    __table_args__ = (
        Index(None, "user_id", "first_seen_at"),
        Index(None, "account_id", "resolution"),
        Index(None, "first_log_id"),
        Index(None, "last_log_id"),
        Index(None, "first_seen_at"),
        Index(None, "resolution", "first_seen_at"),
        # Time-to-resolve over the last days (the work-item stats) and the as-of open list.
        Index(None, "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    broker_position_id: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(32))
    kind: Mapped[DivergenceKind] = mapped_column(str_enum(DivergenceKind, "divergence_kind"))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "severity"))
    local_value: Mapped[str | None] = mapped_column(String(64))
    broker_value: Mapped[str | None] = mapped_column(String(64))
    # What resolving it will mean (broker_wins, closed_locally, ...); `resolution` stays `open` until then.
    action: Mapped[Resolution] = mapped_column(str_enum(Resolution, "divergence_action"))
    resolution: Mapped[Resolution] = mapped_column(str_enum(Resolution, "resolution"))
    # The sync logs of the first and last sighting. Plain ids, no foreign keys: logs are partitioned
    # on PostgreSQL (nothing can reference their id alone) and go with their day at the retention
    # horizon, while incidents are kept forever; an id may name a log that is gone. Nothing reads
    # an incident through them: it carries its own times, values and counts.
    first_log_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    last_log_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The incident as a work item (`IncidentState` is derived: resolution, then acknowledged_at).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when a person resolved it (resolution `manual`); NULL when the sync saw it go.
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # A person's resolution the next sync contradicted: the same divergence seen again reopens it.
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)


class IncidentComment(Base):
    """A remark on an incident, with its author and time; kept with the incident forever."""

    __tablename__ = "incident_comments"
    __table_args__ = (Index(None, "incident_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_divergences.id"))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)


class HwmReset(Base):
    """A high-water mark set back to the equity of the moment by a person (a prop challenge moving
    to its next phase), with the values before and the reason; drawn as a marker on the equity chart."""

    __tablename__ = "hwm_resets"
    __table_args__ = (Index(None, "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"))
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_hwm: Mapped[Decimal | None] = mapped_column(Money())
    new_hwm: Mapped[Decimal] = mapped_column(Money())
    reason: Mapped[str] = mapped_column(String(500))


class EquitySnapshot(Base):
    """One account's equity at one moment (a minute apart). Append-only; kept
    `equity_raw_retention_days` (its hourly rollup stays). On PostgreSQL partitioned by day on `ts`,
    with primary key (id, ts) there and `id` here, as for `ReconciliationLog`."""

    __tablename__ = "equity_snapshots"
    # (ts): the retention job finds what is past its horizon without reading every account.
    __table_args__ = (UniqueConstraint("account_id", "ts"), Index(None, "ts"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    balance: Mapped[Decimal] = mapped_column(Money())
    equity: Mapped[Decimal] = mapped_column(Money())
    margin: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    free_margin: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    hwm: Mapped[Decimal] = mapped_column(Money())
    drawdown_pct: Mapped[Decimal] = mapped_column(Pct())


class EquityHourly(Base):
    """One account's equity over one hour (`dashboard.domain.rollups`), kept for the life of the
    account while the minute snapshots are pruned after `equity_raw_retention_days`. Written by
    ingestion with each snapshot, in its transaction, under the account's lock."""

    __tablename__ = "equity_hourly"

    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"), primary_key=True)
    # Hours since the epoch: an integer both databases divide into coarser buckets.
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    open_equity: Mapped[Decimal] = mapped_column(Money())
    high_equity: Mapped[Decimal] = mapped_column(Money())
    low_equity: Mapped[Decimal] = mapped_column(Money())
    close_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    close_balance: Mapped[Decimal] = mapped_column(Money())
    close_equity: Mapped[Decimal] = mapped_column(Money())
    close_hwm: Mapped[Decimal] = mapped_column(Money())
    close_drawdown_pct: Mapped[Decimal] = mapped_column(Pct())
    worst_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    worst_balance: Mapped[Decimal] = mapped_column(Money())
    worst_equity: Mapped[Decimal] = mapped_column(Money())
    worst_hwm: Mapped[Decimal] = mapped_column(Money())
    worst_drawdown_pct: Mapped[Decimal] = mapped_column(Pct())
    samples: Mapped[int] = mapped_column(Integer)


class AccountRiskState(Base):
    """One row per account: the current gauges plus counters that keep status reads O(accounts)."""

    __tablename__ = "account_risk_state"
    __table_args__ = (Index(None, "drawdown_pct"), Index(None, "user_id"))

    account_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    balance: Mapped[Decimal | None] = mapped_column(Money())
    equity: Mapped[Decimal | None] = mapped_column(Money())
    margin: Mapped[Decimal | None] = mapped_column(Money())
    hwm: Mapped[Decimal | None] = mapped_column(Money())
    hwm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawdown_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal(0))
    max_drawdown_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal(0))
    dd_level: Mapped[Level] = mapped_column(str_enum(Level, "dd_level"), default=Level.NORMAL)
    # Alert level with hysteresis (drives guard events); the gauge shows `dd_level`.
    dd_alert_level: Mapped[Level] = mapped_column(str_enum(Level, "dd_alert_level"), default=Level.NORMAL)
    day_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    day_start_balance: Mapped[Decimal | None] = mapped_column(Money())
    day_start_equity: Mapped[Decimal | None] = mapped_column(Money())
    daily_loss_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal(0))
    daily_loss_level: Mapped[Level] = mapped_column(str_enum(Level, "daily_loss_level"), default=Level.NORMAL)
    max_loss_level: Mapped[Level] = mapped_column(str_enum(Level, "max_loss_level"), default=Level.NORMAL)
    highest_eod_balance: Mapped[Decimal | None] = mapped_column(Money())
    open_positions: Mapped[int] = mapped_column(Integer, default=0)
    total_syncs: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_syncs: Mapped[int] = mapped_column(BigInteger, default=0)
    incidents_total: Mapped[int] = mapped_column(BigInteger, default=0)
    open_incidents: Mapped[int] = mapped_column(Integer, default=0)
    open_critical_incidents: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[SyncStatus | None] = mapped_column(str_enum(SyncStatus, "last_sync_status"))
    # Set by the leader when the account went silent (its alert is raised), cleared by the next
    # sync or equity snapshot (its alert resolved) in the same transaction.
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GuardEvent(Base):
    __tablename__ = "guard_events"
    __table_args__ = (
        Index(None, "account_id", "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "guard_type", "created_at"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # NULL for market guards, which concern a symbol for everybody.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("trading_accounts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    guard_type: Mapped[GuardType] = mapped_column(str_enum(GuardType, "guard_type"))
    symbol: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[Level] = mapped_column(str_enum(Level, "guard_level"))
    state: Mapped[GuardState] = mapped_column(str_enum(GuardState, "guard_state"))
    metric_value: Mapped[Decimal | None] = mapped_column(Num(20, 8))
    threshold_value: Mapped[Decimal | None] = mapped_column(Num(20, 8))
    message: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """The alert outbox: written in the transaction of the event that raises or resolves it, so
    no event is lost and none is announced for a write that rolled back. Delivery reads it later
    (`dispatched_at` is set once it has been handed to the channels)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(None, "dispatched_at", "id"),
        Index(None, "key", "created_at"),
        Index(None, "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # What raises and resolves it (e.g. `guard:drawdown:account:12`): the same key for both.
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, "alert_kind"))
    state: Mapped[AlertState] = mapped_column(str_enum(AlertState, "alert_state"))
    level: Mapped[Level] = mapped_column(str_enum(Level, "alert_level"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("trading_accounts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    guard_event_id: Mapped[int | None] = mapped_column(ForeignKey("guard_events.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_divergences.id"))
    title: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Acknowledging a raise stops its escalation (in the dashboard or through a signed link).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the escalation rules of this raise were all handled (sent on, or moot).
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertChannel(Base):
    """Where alerts go: an Apprise URL (Telegram, e-mail, Slack, Teams, Discord, a JSON webhook),
    stored encrypted (it holds tokens and passwords) with a masked form for display."""

    __tablename__ = "alert_channels"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # NULL: a team channel (risk/admin manage it); else a trader's own (their Telegram, say).
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scheme: Mapped[str] = mapped_column(String(32))
    url_encrypted: Mapped[str] = mapped_column(Text)
    url_masked: Mapped[str] = mapped_column(String(255))
    # Alerts below this level are not sent here (a recovery follows its raise).
    min_level: Mapped[Level] = mapped_column(str_enum(Level, "channel_min_level"), default=Level.WARNING)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRule(Base):
    """Which alerts go to which channel: kinds, a minimum level and accounts. A trader's rule
    (`owner_user_id` set) reaches only that trader's accounts and own channels; team rules
    (NULL) are managed by risk/admin. Flap control and escalation are per rule."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id"))
    # AlertKind values; empty: every kind the owner may receive.
    kinds: Mapped[list[str]] = mapped_column(JSON)
    # Account ids; empty: every account the owner may see.
    account_ids: Mapped[list[int]] = mapped_column(JSON)
    min_level: Mapped[Level] = mapped_column(str_enum(Level, "rule_min_level"), default=Level.WARNING)
    # A re-raise of the same (account, guard) within this many seconds of the last one sent is
    # held until the interval has passed, and dropped if it resolved meanwhile.
    renotify_s: Mapped[int] = mapped_column(Integer, default=300)
    # A critical raise not acknowledged within this many seconds goes to the escalation channel.
    escalate_after_s: Mapped[int | None] = mapped_column(Integer)
    escalation_channel_id: Mapped[int | None] = mapped_column(ForeignKey("alert_channels.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertDelivery(Base):
    """One alert to one channel (once more if escalated); at most one row per (alert, channel,
    escalation), whatever happens to the worker."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel_id", "escalation"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "channel_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id"))
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    # Held back by flap control: dropped at its time if the alert resolved meanwhile.
    deferred: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertAttempt(Base):
    """Every try to deliver, kept: when, and what came of it."""

    __tablename__ = "alert_attempts"
    __table_args__ = (Index(None, "delivery_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(255))


class MarketState(Base):
    """Last quote and guard state per symbol; the hysteresis memory of the market guards."""

    __tablename__ = "market_state"

    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    bid: Mapped[Decimal] = mapped_column(Price())
    ask: Mapped[Decimal] = mapped_column(Price())
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    guard_state: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "actor_user_id", "created_at"),
        # Login throttling counts recent failures per account and per client address.
        Index(None, "action", "target", "created_at"),
        Index(None, "action", "client_addr", "created_at"),
        # The audit page's account filter: every change to an account or to what belongs to it.
        Index(None, "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The trading account the action concerns (a limit, an HWM, an incident, a guard event), if any.
    # No foreign key: the trail outlives what it names.
    account_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    client_addr: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """One issued refresh token. Rotation marks it used; presenting a used one again means it was
    stolen (or replayed), and every session of its user is revoked."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index(None, "user_id"), Index(None, "family"))

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    family: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServiceToken(Base):
    """A long-lived bridge token, by its `jti` (the token itself is shown once and never stored).
    A revoked one is refused at once in every process (its user's session state lists it)."""

    __tablename__ = "service_tokens"
    __table_args__ = (Index(None, "user_id"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AppMeta(Base):
    """Facts about this database the app must remember across restarts (e.g. that the demo
    seed finished): one row per key, written explicitly, never inferred from other tables."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingInvalidation(Base):
    """A cache invalidation that could not reach Redis when its write committed.

    Kept here (not only in the writing process's memory) so that it survives that process: any
    process replays these before it trusts Redis again, at start and after a Redis outage.
    """

    __tablename__ = "cache_pending_invalidations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    family: Mapped[str] = mapped_column(String(32))
    # NULL: the whole family (market data belongs to nobody).
    scope: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
