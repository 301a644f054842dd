"""The browser-session helpers: cookie attributes, `next` sanitising, public paths."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from dashboard.auth.web import is_public, safe_next, set_session_cookie


def request(scheme: str, forwarded: str | None = None) -> Request:
    headers = [(b"host", b"dash.example")]
    if forwarded:
        headers.append((b"x-forwarded-proto", forwarded.encode()))
    return Request({"type": "http", "scheme": scheme, "path": "/", "headers": headers, "query_string": b""})


def test_over_https_the_cookie_is_host_prefixed_and_secure() -> None:
    response = Response()
    set_session_cookie(response, request("https"), "tok", 3600)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-tb_session=tok")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=3600"):
        assert attribute.lower() in cookie.lower()
    assert "domain" not in cookie.lower()  # __Host- cookies must not carry a Domain


@pytest.mark.parametrize("forwarded", [None, "https"])
def test_over_http_the_cookie_is_still_httponly_and_samesite(forwarded: str | None) -> None:
    """A forwarded scheme counts only once a trusted proxy's middleware has set it (tests/web)."""
    response = Response()
    set_session_cookie(response, request("http", forwarded), "tok", 60)
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("tb_session=tok") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/positions?account=3", "/positions?account=3"),
        ("/guards", "/guards"),
        (None, "/reconciliation"),
        ("", "/reconciliation"),
        ("https://evil.example/", "/reconciliation"),
        ("//evil.example/x", "/reconciliation"),
        ("/\\evil.example", "/reconciliation"),
        ("javascript:alert(1)", "/reconciliation"),
        ("/login?next=/x", "/reconciliation"),
        ("/auth/session", "/reconciliation"),
    ],
)
def test_next_is_only_ever_one_of_our_pages(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_public_paths() -> None:
    """What a page request may reach without a session (the API never reaches the page guards)."""
    assert is_public("/login") and is_public("/_nicegui_ws/socket.io/") and is_public("/auth/session")
    assert not is_public("/loginx") and not is_public("/reconciliation") and not is_public("/")
