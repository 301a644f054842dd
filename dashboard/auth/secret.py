"""The JWT secret policy: production refuses a missing, known-default or short secret; demo
generates a random one per start when none is set (and says so)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from dashboard.settings import Environment, Settings

MIN_SECRET_BYTES = 32

# Values that appear in tutorials, templates and .env examples; refused whatever their length.
KNOWN_DEFAULTS = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "your-secret-key",
        "your_secret_key",
        "yoursecretkey",
        "jwt-secret",
        "jwt_secret",
        "jwtsecret",
        "secret-key",
        "secret_key",
        "secretkey",
        "supersecret",
        "super-secret",
        "default",
        "password",
        "development",
        "dev",
        "test",
        "insecure",
        "please-change-me",
        "your-256-bit-secret",
        "a-string-secret-at-least-256-bits-long",
    }
)


class SecretPolicyError(ValueError):
    """The configured secret may not be used; the message says why and what to do."""


@dataclass(frozen=True)
class JwtSecret:
    value: str
    generated: bool


def _looks_default(value: str) -> bool:
    """A template value, a repetition of one, or too few distinct characters to be random."""
    lowered = value.strip().lower()
    if lowered in KNOWN_DEFAULTS or len(set(lowered)) < 10:
        return True
    remainder = lowered
    for default in sorted(KNOWN_DEFAULTS, key=len, reverse=True):
        if len(default) >= 4:
            remainder = remainder.replace(default, "")
    return sum(ch.isalnum() for ch in remainder) < 16


def resolve_jwt_secret(settings: Settings) -> JwtSecret:
    configured = settings.jwt_secret.get_secret_value() if settings.jwt_secret is not None else None
    hint = (
        "set DASHBOARD_JWT_SECRET to a random value, "
        "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )
    if configured is None or configured == "":
        if settings.env is Environment.PRODUCTION:
            raise SecretPolicyError(f"DASHBOARD_JWT_SECRET is not set; {hint}")
        return JwtSecret(secrets.token_urlsafe(48), generated=True)
    if len(configured.encode()) < MIN_SECRET_BYTES:
        raise SecretPolicyError(f"DASHBOARD_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; {hint}")
    if _looks_default(configured):
        raise SecretPolicyError(f"DASHBOARD_JWT_SECRET is a known default or trivially guessable; {hint}")
    return JwtSecret(configured, generated=False)
