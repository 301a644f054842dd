"""Request and response bodies of the API that are not read models (those live in
`dashboard.schemas` and are shared with the pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dashboard.domain.enums import AlertKind, Level, Role
from dashboard.schemas.common import StrictInput
from dashboard.schemas.guards import AccountGuardList, MarketGuardList


class ErrorOut(BaseModel):
    detail: str
    field: str | None = None


class LoginIn(StrictInput):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class RefreshIn(StrictInput):
    refresh_token: Annotated[str, Field(min_length=10, max_length=4096)]


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class MeOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: Role


class GuardStatus(BaseModel):
    """Per visible account: equity, HWM, drawdown, level, thresholds, daily loss; plus the market
    guards per symbol (the same for everybody)."""

    guards: AccountGuardList
    market: MarketGuardList


class IngestAccepted(BaseModel):
    status: Literal["accepted", "duplicate"]
    detail: dict[str, int | str | bool | None] = Field(default_factory=dict)


# ---- alerts: acknowledgement, channels and routing rules

#: A channel's or rule's name: it goes in a path (`/alerts/channels/{name}`), so no slash.
AlertName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/]+$")]
AccountId = Annotated[int, Field(gt=0, lt=2**63)]
MAX_RENOTIFY_S = 86_400
MAX_ESCALATE_AFTER_S = 7 * 86_400


class AlertAckOut(BaseModel):
    alert_id: int
    acknowledged_at: datetime | None
    acknowledged_by: int | None = Field(description="who acknowledged it first (a user id)")
    changed: bool = Field(description="false when it had been acknowledged before: the first one stays")


class ChannelIn(StrictInput):
    name: AlertName
    url: Annotated[
        SecretStr,
        Field(
            min_length=4,
            max_length=2048,
            description="an Apprise URL (e.g. tgram://token/chat, json://host/path); a secret: "
            "stored encrypted, never shown again (listings show it masked)",
        ),
    ]
    min_level: Level = Level.WARNING
    renotify_s: Annotated[
        int, Field(ge=0, le=MAX_RENOTIFY_S, description="flap control of the catch-all rule")
    ] = 300
    with_rule: bool = Field(
        default=True, description="also add the channel's catch-all rule (same name, every alert you see)"
    )


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    scheme: str
    url: str = Field(description="masked: the scheme and at most the host, never the stored URL")
    min_level: Level
    enabled: bool = Field(description="false once removed (its delivery history stays)")
    owner_user_id: int | None = Field(description="the trader whose channel it is; null: a team channel")


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class ChannelTestOut(BaseModel):
    ok: Literal[True] = True


class RuleIn(StrictInput):
    name: AlertName
    channel: AlertName
    kinds: list[AlertKind] = Field(
        default_factory=list, max_length=len(AlertKind), description="empty: every kind"
    )
    account_ids: list[AccountId] = Field(
        default_factory=list, max_length=1000, description="empty: every account"
    )
    min_level: Level = Level.WARNING
    renotify_s: Annotated[
        int, Field(ge=0, le=MAX_RENOTIFY_S, description="flap control: min seconds between raises")
    ] = 300
    escalate_after_s: Annotated[
        int | None,
        Field(ge=60, le=MAX_ESCALATE_AFTER_S, description="an unacknowledged critical escalates after"),
    ] = None
    escalation_channel: AlertName | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner_user_id: int | None = Field(description="the trader whose rule it is; null: a team rule")
    channel: str
    kinds: list[AlertKind]
    account_ids: list[int]
    min_level: Level
    renotify_s: int
    escalate_after_s: int | None
    escalation_channel: str | None
    enabled: bool


class RuleList(BaseModel):
    rules: list[RuleOut]
