"""People and access as the admin page and the `/admin` API show them: users with their sessions
and last login, stored service tokens (never the token itself), and what administration takes in.

A session is derived, not stored: see `dashboard.services.queries.people` for what counts as an
active one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, model_validator

from dashboard.domain.enums import Role
from dashboard.schemas.common import ReadModel, StrictInput

#: Longest service-token name (the `service_tokens.name` column).
TOKEN_NAME_MAX = 80
#: Service-token lifetime bounds, in days.
TOKEN_DAYS_MIN = 1
TOKEN_DAYS_MAX = 365


class UserSummary(BaseModel):
    """A user as administration returns it after a change (and as `users list` prints it)."""

    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    is_demo: bool
    has_password: bool
    created_at: datetime


class SessionVia(StrEnum):
    BROWSER = "browser"
    API = "api"


class SessionView(ReadModel):
    """One active session: a successful login whose lifetime has not passed and that no
    session-ending event (logout, end sessions, disable, role or password change) followed."""

    via: SessionVia
    started_at: datetime
    #: When it ends at the latest (a browser session's cookie lifetime; an API session's newest
    #: refresh token, which rotation moves forward).
    expires_at: datetime
    client_addr: str | None


class UserRow(ReadModel):
    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    is_demo: bool
    has_password: bool
    created_at: datetime
    active_sessions: int
    last_login_at: datetime | None
    last_login_addr: str | None


class UserList(ReadModel):
    users: list[UserRow]
    as_of: datetime


class UserSessions(ReadModel):
    user_id: int
    email: str
    sessions: list[SessionView]
    #: The last event that ended every session of the user (logout, end sessions, disable, ...).
    last_ended_at: datetime | None
    as_of: datetime


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    #: Its user's sessions were ended after it was issued (every token of the user then stops).
    ENDED = "ended"


class ServiceTokenView(ReadModel):
    """A stored service token: who and what it is for, never the token."""

    jti: str
    name: str
    user_id: int
    user_email: str
    created_at: datetime
    created_by_email: str | None
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by_email: str | None
    state: TokenState


class ServiceTokenList(ReadModel):
    tokens: list[ServiceTokenView]
    as_of: datetime


# ---- what the `/admin` API takes in and answers -----------------------------------------------


class UserIn(StrictInput):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    role: Role
    password: Annotated[
        SecretStr,
        Field(
            min_length=1, max_length=1024, description="the initial password (the password policy applies)"
        ),
    ]
    display_name: Annotated[
        str | None, Field(max_length=120, description="default: the part of the address before @")
    ] = None


class UserPatch(StrictInput):
    """Either or both; each change ends the user's sessions and is audited on its own."""

    role: Role | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UserPatch:
        if self.role is None and self.active is None:
            raise ValueError("give role, active or both")
        return self


class ServiceTokenIn(StrictInput):
    email: Annotated[str, Field(min_length=3, max_length=254, description="an active user with role service")]
    name: Annotated[str, Field(min_length=1, max_length=TOKEN_NAME_MAX, description="what the token is for")]
    days: Annotated[int, Field(ge=TOKEN_DAYS_MIN, le=TOKEN_DAYS_MAX, description="lifetime in days")] = 90


class ServiceTokenIssuedOut(BaseModel):
    """The token, this once: it is not stored and cannot be shown again."""

    token: str = Field(description="the bearer token; shown once, never stored")
    service_token: ServiceTokenView
