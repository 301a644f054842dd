"""Request and response bodies of the API that are not read models (those live in
`dashboard.schemas` and are shared with the pages)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from dashboard.domain.enums import Role
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
