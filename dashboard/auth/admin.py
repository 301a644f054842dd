"""User administration with credentials: the password policy and hashing on top of the user
services, every change through the one write path (so sessions it revokes end in every process).

The `users` CLI uses it today; the admin page will use the very same calls.
"""

from __future__ import annotations

from dashboard.auth.passwords import check_password_policy, hash_password_async
from dashboard.cache.writer import Writer
from dashboard.domain.enums import Role
from dashboard.services import users
from dashboard.services.errors import InvalidInput
from dashboard.services.users import UserSummary


async def hashed(password: str) -> str:
    """The argon2id hash of a password that meets the policy (else `InvalidInput` on `password`)."""
    try:
        check_password_policy(password)
    except ValueError as error:
        raise InvalidInput(str(error), field="password") from None
    return await hash_password_async(password)


class UserAdmin:
    def __init__(self, write: Writer) -> None:
        self.write = write

    async def create(
        self, email: str, role: str | Role, password: str, display_name: str | None = None
    ) -> UserSummary:
        users.normalise_email(email)  # refuse a bad address before paying for the hash
        users.parse_role(role)
        return (await self.write(users.create_user, email, role, await hashed(password), display_name)).user

    async def list(self) -> list[UserSummary]:
        return await users.list_users(self.write.db)

    async def set_role(self, email: str, role: str | Role) -> UserSummary:
        return (await self.write(users.set_role, email, role)).user

    async def set_active(self, email: str, active: bool) -> UserSummary:
        return (await self.write(users.set_active, email, active)).user

    async def set_password(self, email: str, password: str) -> UserSummary:
        return (await self.write(users.set_password_hash, email, await hashed(password))).user
