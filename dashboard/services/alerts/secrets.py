"""Channel URLs at rest: encrypted with the settings' Fernet key, shown only masked.

An Apprise URL carries the channel's credentials (a Telegram bot token, an SMTP password, a
webhook's secret path), so the database holds it encrypted and nothing shows it in full again:
not the API, not the CLI, not the logs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from dashboard.services.errors import InvalidInput, NotConfigured

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]{1,31})://", re.IGNORECASE)


class ChannelSecrets:
    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    @classmethod
    def of(cls, key: SecretStr | None) -> ChannelSecrets:
        """From the settings' `alerts_key` (None: channels cannot be stored or read)."""
        return cls(key.get_secret_value() if key is not None else None)

    def _require(self) -> Fernet:
        if self._fernet is None:
            raise NotConfigured("alert channels need DASHBOARD_ALERTS_KEY (a Fernet key) to store their URLs")
        return self._fernet

    def encrypt(self, url: str) -> str:
        return self._require().encrypt(url.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._require().decrypt(token.encode()).decode()
        except InvalidToken:
            raise NotConfigured("a channel URL cannot be read with this DASHBOARD_ALERTS_KEY") from None


def scheme_of(url: str) -> str:
    match = _SCHEME.match(url.strip())
    if match is None:
        raise InvalidInput("url: an Apprise URL such as json://host/path or tgram://token/chat", field="url")
    return match.group(1).lower()


def masked(url: str) -> str:
    """Scheme and host only (`tgram://…`, `json://hooks.example.com/…`): enough to tell channels
    apart, nothing that authenticates."""
    scheme = scheme_of(url)
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        raise InvalidInput("url: not a valid URL", field="url") from None
    if scheme in {"tgram", "slack", "msteams", "discord", "workflow", "workflows"}:
        host = ""  # the "host" of these is the token itself
    return f"{scheme}://{host}/…" if host else f"{scheme}://…"
