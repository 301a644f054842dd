"""argon2id password hashes (pwdlib), verified off the event loop.

One verify costs about 100 ms of CPU by design; on the event loop four of them would stall every
page and request for 400 ms, in a worker thread the loop stays responsive (engineering notes).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# Hashing gets at most all cores but one: measured, a burst of 100 logins (Locust ramp-up) on the
# default executor saturated both cores and pushed the read endpoints' p99 to 2.5-3.5 s; capped,
# logins queue instead and the event loop keeps a core for the dashboard.
_HASH_POOL = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="argon2")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so that "no such user" and
    "wrong password" take the same time and cannot be told apart by a stopwatch."""
    return _hasher().hash("timing-equaliser-not-a-password")


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password: at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, hash_password, password)


def _verify(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False
    try:
        return bool(_hasher().verify(password, password_hash))
    except Exception:  # a malformed stored hash is a failed login, never a 500
        return False


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; `None` (no user, no password set) costs the same and fails."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, _verify, password, password_hash)
