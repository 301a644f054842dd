"""Browser sessions: the HttpOnly cookie, the `next` parameter and the same-origin rule.

- The session JWT lives only in an HttpOnly, SameSite=Lax cookie (`__Host-` prefixed and Secure
  when served over HTTPS), never in a URL or in localStorage.
- The guards that apply these to every page request live in `dashboard.web.guards`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

COOKIE = "tb_session"
SECURE_COOKIE = "__Host-tb_session"
DEFAULT_NEXT = "/reconciliation"

# The API (`/api`, `/health`, `/docs`) is served in front of the pages and never reaches here.
PUBLIC_PREFIXES = ("/login", "/auth/session", "/_nicegui", "/favicon.ico")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_https(connection: HTTPConnection) -> bool:
    """Behind a proxy the scheme is the one a trusted proxy reported (`dashboard.web.proxies`);
    an `X-Forwarded-Proto` from anyone else is ignored."""
    return connection.url.scheme in ("https", "wss")


def client_addr(connection: HTTPConnection) -> str | None:
    """The client's address (login throttling and the audit log key on it): the peer, or the
    address a trusted proxy reported for it."""
    return connection.client.host if connection.client else None


def session_token(connection: HTTPConnection) -> str | None:
    return connection.cookies.get(SECURE_COOKIE) or connection.cookies.get(COOKIE)


def set_session_cookie(response: Response, connection: HTTPConnection, token: str, max_age: int) -> None:
    secure = is_https(connection)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SECURE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def safe_next(value: str | None) -> str:
    """Only our own absolute paths: no scheme, no host, no `//evil`, no backslash tricks."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/auth/")):
        return DEFAULT_NEXT
    return value


def is_public(path: str) -> bool:
    return path.startswith("/_nicegui") or any(
        path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_PREFIXES
    )


def same_origin(connection: HTTPConnection) -> bool:
    """True when the request carries no Origin (not a browser cross-site request) or our own."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host", "")
