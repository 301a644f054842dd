"""User administration with credentials: the password policy and hashing on top of the user
services, every change through the one write path (so sessions it revokes end in every process).

The `users` CLI, the admin page and the `/admin` API make the very same calls. Each takes the acting
person (`actor`, a `Viewer`; None is the operator at the shell) and their address, which the audit
entry records. The role check itself is in the services (a non-admin is `Forbidden` there, however
they got to call), and is repeated here only so that a refused call costs no password hash.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from dashboard.auth.passwords import check_password_policy, hash_password_async
from dashboard.auth.sessions import AuthService
from dashboard.cache.writer import Writer
from dashboard.domain.enums import Role
from dashboard.schemas.people import ServiceTokenView
from dashboard.services import service_tokens, users
from dashboard.services.audit import AuditAction
from dashboard.services.errors import InvalidInput, NotConfigured
from dashboard.services.queries import people
from dashboard.services.users import UserRef, UserSummary, require_admin
from dashboard.services.viewer import Viewer


async def hashed(password: str) -> str:
    """The argon2id hash of a password that meets the policy (else `InvalidInput` on `password`)."""
    try:
        check_password_policy(password)
    except ValueError as error:
        raise InvalidInput(str(error), field="password") from None
    return await hash_password_async(password)


@dataclass(frozen=True)
class NewServiceToken:
    """A token just issued: `token` is shown this once and never stored or logged."""

    token: str
    view: ServiceTokenView


class UserAdmin:
    def __init__(self, write: Writer, auth: AuthService | None = None) -> None:
        self.write = write
        # Signs service tokens (the JWT secret lives there); without it tokens cannot be issued.
        self.auth = auth

    async def create(
        self,
        email: str,
        role: str | Role,
        password: str,
        display_name: str | None = None,
        *,
        actor: Viewer | None = None,
        client_addr: str | None = None,
    ) -> UserSummary:
        require_admin(actor)
        users.normalise_email(email)  # refuse a bad address before paying for the hash
        users.parse_role(role)
        password_hash = await hashed(password)
        return (
            await self.write(
                users.create_user,
                email,
                role,
                password_hash,
                display_name,
                actor=actor,
                client_addr=client_addr,
            )
        ).user

    async def list(self, *, actor: Viewer | None = None) -> list[UserSummary]:
        return await users.list_users(self.write.db, actor)

    async def set_role(
        self, user: UserRef, role: str | Role, *, actor: Viewer | None = None, client_addr: str | None = None
    ) -> UserSummary:
        return (await self.write(users.set_role, user, role, actor=actor, client_addr=client_addr)).user

    async def set_active(
        self, user: UserRef, active: bool, *, actor: Viewer | None = None, client_addr: str | None = None
    ) -> UserSummary:
        return (await self.write(users.set_active, user, active, actor=actor, client_addr=client_addr)).user

    async def set_password(
        self, user: UserRef, password: str, *, actor: Viewer | None = None, client_addr: str | None = None
    ) -> UserSummary:
        require_admin(actor)
        password_hash = await hashed(password)
        return (
            await self.write(
                users.set_password_hash, user, password_hash, actor=actor, client_addr=client_addr
            )
        ).user

    async def end_sessions(
        self, user: UserRef, *, actor: Viewer | None = None, client_addr: str | None = None
    ) -> UserSummary:
        """End every session of the user at once. There is no ending one session alone: tokens
        are revoked by the user's session version, which all of them carry."""
        require_admin(actor)
        ended = await self.write(
            users.end_sessions, user, AuditAction.SESSIONS_ENDED, client_addr, actor=actor
        )
        assert ended.user is not None  # found, or NotFound was raised
        return ended.user

    async def issue_token(
        self,
        email: str,
        name: str,
        days: int,
        *,
        actor: Viewer | None = None,
        client_addr: str | None = None,
    ) -> NewServiceToken:
        """A service token for an active service user, valid 1-365 days, shown once."""
        require_admin(actor)
        if self.auth is None:
            raise NotConfigured("issuing service tokens needs the app's token signer")
        issued = await self.auth.service_token(email, name, days, actor, client_addr)
        return NewServiceToken(issued.signed.token.token, issued.view)

    async def revoke_token(
        self, jti: str, *, actor: Viewer | None = None, client_addr: str | None = None
    ) -> ServiceTokenView:
        """Revoke one token by its id or a unique prefix of at least 8 characters."""
        return (await self.write(service_tokens.revoke, actor, jti, client_addr)).view

    async def tokens(
        self, email: str | None = None, *, actor: Viewer | None = None
    ) -> builtins.list[ServiceTokenView]:
        """Stored service tokens (of one user when `email` is given), newest first."""
        return (await people.service_tokens(self.write.db, actor, email=email)).tokens
