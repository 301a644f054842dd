"""Behind a reverse proxy: the client's address and scheme come from X-Forwarded-* only when the
connection comes from a trusted proxy (`DASHBOARD_TRUSTED_PROXIES`)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import select

from dashboard.db.models import AuditLog
from dashboard.runtime import current_runtime
from dashboard.settings import Settings
from tests.pages.conftest import Web, served_client

PROXY = "10.0.0.5"  # where the requests come from: the proxy's address
CLIENT = "203.0.113.9"  # the browser's, as the proxy reports it


async def log_in_via_proxy(trusted: Sequence[str], origin: str) -> tuple[str, str | None]:
    """(the session cookie set, the address the audit log recorded for the login)."""
    async with served_client(trusted, client=PROXY) as client:
        response = await client.post(
            "/auth/session",
            data={"email": "a@test.local", "password": "correct horse battery", "next": "/positions"},
            headers={
                "X-Forwarded-For": f"198.51.100.1, {CLIENT}",
                "X-Forwarded-Proto": "https",
                "Origin": origin,
            },
        )
    assert response.status_code == 303, response.text
    async with current_runtime().database.session() as session:
        last = (await session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1))).scalar_one()
    return response.headers["set-cookie"], last.client_addr


async def test_a_trusted_proxy_reports_the_client_and_https(web: Web) -> None:
    cookie, address = await log_in_via_proxy(["10.0.0.0/8"], origin="https://test")
    assert address == CLIENT  # the right-most address the trusted proxy appended, not one the client sent
    assert cookie.startswith("__Host-tb_session=") and "secure" in cookie.lower()


async def test_forwarded_headers_from_anyone_else_are_ignored(web: Web) -> None:
    cookie, address = await log_in_via_proxy([], origin="http://test")
    assert address == PROXY
    assert cookie.startswith("tb_session=") and "secure" not in cookie.lower()
    cookie, address = await log_in_via_proxy(["192.0.2.1"], origin="http://test")  # another proxy
    assert address == PROXY and cookie.startswith("tb_session=")


@pytest.mark.parametrize("value", ["*", "10.0.0.300", "proxy.local", "10.0.0.5, *"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValueError, match=r"name the proxies|not an IP address"):
        Settings(trusted_proxies=value)


def test_trusted_proxies_are_read_as_a_list() -> None:
    settings = Settings(trusted_proxies=" 10.0.0.5 ,172.18.0.0/16,,")
    assert settings.trusted_proxy_list == ("10.0.0.5", "172.18.0.0/16")
    assert Settings().trusted_proxy_list == ()
