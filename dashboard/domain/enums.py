"""Closed vocabularies shared by the domain, the database and the API.

They are `StrEnum`s so that the value stored in a VARCHAR + CHECK column, the JSON value in the
API and the Python value are one and the same string.
"""

from enum import StrEnum


class Role(StrEnum):
    TRADER = "trader"
    RISK = "risk"
    ADMIN = "admin"
    SERVICE = "service"

    @property
    def sees_all(self) -> bool:
        """Risk and admin see (and watch over) every account; a trader only their own."""
        return self in (Role.RISK, Role.ADMIN)

    @property
    def reads(self) -> bool:
        """People read the dashboard; service accounts only write (ingestion)."""
        return self is not Role.SERVICE


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    TP = "tp"
    SL = "sl"
    STOP_OUT = "stop_out"
    MANUAL = "manual"
    SIGNAL = "signal"
    RECONCILIATION = "reconciliation"


class PositionSource(StrEnum):
    PLATFORM = "platform"
    EXTERNAL = "external"


class MarginMode(StrEnum):
    HEDGING = "hedging"
    NETTING = "netting"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class Level(StrEnum):
    """Gauge level. Order matters: use `LEVEL_RANK` to compare."""

    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"


LEVEL_RANK: dict[Level, int] = {Level.NORMAL: 0, Level.WARNING: 1, Level.CRITICAL: 2}


class DivergenceKind(StrEnum):
    CLOSED_AT_BROKER = "closed_at_broker"
    MISSING_AT_BROKER = "missing_at_broker"
    UNEXPECTED_AT_BROKER = "unexpected_at_broker"
    VOLUME_MISMATCH = "volume_mismatch"
    SIDE_MISMATCH = "side_mismatch"
    PRICE_OPEN_MISMATCH = "price_open_mismatch"
    SL_MISMATCH = "sl_mismatch"
    TP_MISMATCH = "tp_mismatch"
    SYMBOL_MISMATCH = "symbol_mismatch"
    TICKET_CHANGED = "ticket_changed"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Resolution(StrEnum):
    OPEN = "open"
    BROKER_WINS = "broker_wins"
    CLOSED_LOCALLY = "closed_locally"
    ADOPTED_EXTERNAL = "adopted_external"
    RESENT_TO_BROKER = "resent_to_broker"
    MANUAL = "manual"
    IGNORED = "ignored"


class IncidentState(StrEnum):
    """An incident as a work item: open until someone acknowledges it, resolved when the sync saw
    the divergence go (automatically) or a person resolved it with a note. Derived from the stored
    columns (`resolution`, `acknowledged_at`), never stored twice."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class SyncEventType(StrEnum):
    STARTUP_SYNC = "startup_sync"
    SCHEDULED_SYNC = "scheduled_sync"
    MANUAL_SYNC = "manual_sync"
    SYNC_FAILED = "sync_failed"


class SyncStatus(StrEnum):
    OK = "ok"
    DIVERGENT = "divergent"
    FAILED = "failed"
    SKIPPED = "skipped"


class DealReason(StrEnum):
    """Why an exit deal happened (MT5 DEAL_REASON_*), reduced to what reconciliation needs."""

    SL = "sl"
    TP = "tp"
    SO = "so"  # stop-out
    CLIENT = "client"  # manual close in a terminal (desktop, mobile, web)
    EXPERT = "expert"  # closed by an EA


class GuardType(StrEnum):
    DRAWDOWN = "drawdown"
    DAILY_LOSS = "daily_loss"
    MAX_LOSS = "max_loss"
    PRICE_GAP = "price_gap"
    SPREAD = "spread"
    STALE_QUOTE = "stale_quote"
    SIGNAL_DEVIATION = "signal_deviation"
    MARGIN_LEVEL = "margin_level"


class GuardState(StrEnum):
    TRIGGERED = "triggered"
    CLEARED = "cleared"


class AlertKind(StrEnum):
    """What raised an alert: a guard event, a critical reconciliation incident, an account that
    went silent, or the dashboard's own trouble (seen by the leader)."""

    GUARD = "guard"
    INCIDENT = "incident"
    SILENCE = "silence"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    """An alert's delivery to one channel: pending until sent, retried with backoff, dead after
    the last attempt."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    # Flap control: a re-raise held back for the re-notify interval and then resolved (or the
    # recovery of such a raise); recorded so the alerts page can say why nothing was sent.
    SUPPRESSED = "suppressed"


class AlertState(StrEnum):
    """A raise and its recovery share a key; the recovery is sent as "resolved"."""

    RAISED = "raised"
    RESOLVED = "resolved"


class DailyLossBasis(StrEnum):
    INITIAL = "initial"
    SOD_BALANCE = "sod_balance"
    MAX_SOD_BALANCE_EQUITY = "max_sod_balance_equity"


class MaxLossMode(StrEnum):
    STATIC = "static"
    TRAILING_EOD = "trailing_eod"


class StopsPolicy(StrEnum):
    """Who is authoritative for SL/TP when they differ (docs/domain.md §7.4)."""

    BROKER_WINS = "broker_wins"
    PLATFORM_WINS = "platform_wins"


class HwmMode(StrEnum):
    """How a window's max drawdown seeds its high-water mark (docs/domain.md §2.5)."""

    IN_WINDOW = "in_window"
    CARRIED = "carried"


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"
    STALE = "stale"
    UNKNOWN = "unknown"
