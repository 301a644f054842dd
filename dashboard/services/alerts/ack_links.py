"""Signed, expiring links that acknowledge one alert from the message that announced it.

The link only lands on a confirm page after login: it names the alert, it does not log anyone in,
and acknowledging happens when the signed-in person confirms (audited like any acknowledgement).
It is single-use because acknowledging is: once the alert is acknowledged the link says so and
does nothing. Signed with a key derived from the JWT secret for this one purpose, so a link is
never a session token and a session token is never a link (`TokenService.derive_key`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jwt

from dashboard.services.errors import InvalidInput

AUDIENCE = "alert-ack"
ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(hours=24)


class AckLinks:
    def __init__(self, key: bytes, public_url: str | None, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self._key = key
        self._base = public_url.rstrip("/") if public_url else None
        self.ttl = ttl

    def token(self, alert_id: int, *, now: datetime | None = None) -> str:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = {
            "alert": alert_id,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": issued + self.ttl,
            "jti": secrets.token_urlsafe(8),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def url(self, alert_id: int) -> str | None:
        """The link to put in a message, or None without a public URL to point at."""
        if self._base is None:
            return None
        return f"{self._base}/alerts/ack?token={quote(self.token(alert_id))}"

    def alert_id(self, token: str, *, now: datetime | None = None) -> int:
        """The alert a link is for; `InvalidInput` if it is forged, altered or expired."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                # Expiry is checked below against `now` (the clock the caller gives).
                options={"require": ["alert", "aud", "iat", "exp", "jti"], "verify_exp": False},
            )
            if datetime.fromtimestamp(int(claims["exp"]), UTC) <= (now or datetime.now(UTC)):
                raise jwt.ExpiredSignatureError("expired")
            return int(claims["alert"])
        except jwt.ExpiredSignatureError:
            raise InvalidInput("this acknowledgement link has expired", field="token") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidInput("this acknowledgement link is not valid", field="token") from None
