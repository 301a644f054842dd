"""`/audit` with NiceGUI's simulated user: risk and admin read the trail (their own login is on
it), filter it on the server and export exactly the rows shown; a trader is refused."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from nicegui import ui
from sqlalchemy import select

from dashboard.db.models import TradingAccount
from dashboard.runtime import current_runtime
from dashboard.services.audit import AuditAction, record
from tests.pages.conftest import Web


async def _rows(web: Web, until: Any) -> list[dict[str, Any]]:
    table = web.user.find(marker="audit").elements.pop()
    assert isinstance(table, ui.table)
    for _ in range(100):
        if until(table.rows):
            return list(table.rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"audit rows never as expected: {table.rows}")


async def test_risk_reads_filters_and_exports_the_trail(web: Web) -> None:
    await record(
        current_runtime().database, AuditAction.LOGIN_FAILED, target="mallory@x", client_addr="10.9.9.9"
    )
    assert await web.login("risk") == 303
    await web.user.open("/audit")
    rows = await _rows(web, lambda rows: any(r["action"] == "login_failed" for r in rows))
    own = web.world.email("risk")
    assert any(r["action"] == "login" and r["actor"] == own for r in rows)  # this very login
    failed = next(r for r in rows if r["action"] == "login_failed")
    assert failed["actor"] == "–" and failed["client"] == "10.9.9.9" and failed["target"] == "mallory@x"

    web.user.find(marker="audit-action").elements.pop().set_value("login_failed")
    only = await _rows(web, lambda rows: rows and all(r["action"] == "login_failed" for r in rows))
    assert [r["target"] for r in only] == ["mallory@x"]

    web.user.find(marker="audit-export").click()
    download = await web.user.download.next()
    exported = list(csv.reader(io.StringIO(download.text)))
    assert exported[0] == ["Time", "Who", "Action", "Target", "Account", "From", "Detail"]
    assert len(exported) == 1 + len(only)
    assert exported[1][2:6] == ["login_failed", "mallory@x", "", "10.9.9.9"]
    assert exported[1][0].endswith("UTC")


async def test_a_trader_is_refused_the_audit_page_and_does_not_see_it_in_the_menu(web: Web) -> None:
    await web.login("a")
    await web.user.open("/audit")
    await web.see("forbidden")
    await web.user.should_not_see(marker="audit")
    await web.user.open("/positions")
    await web.user.should_not_see("Audit")


async def test_the_account_filter_and_a_link_to_one_accounts_trail(web: Web) -> None:
    """`?account=` opens the trail on one account (the account page links it); the select narrows
    it the same way, and every row shown names that account."""
    db = current_runtime().database
    async with db.read_session() as s:
        names = {a.id: a.name for a in (await s.execute(select(TradingAccount))).scalars()}
    first, second = sorted(names)[:2]
    for account in (first, second):
        await record(db, AuditAction.LIMITS_CHANGED, target=f"account:{account}", detail={"reason": "test"})
    await web.login("risk")
    await web.user.open(f"/audit?account={second}")
    rows = await _rows(web, lambda rows: bool(rows))
    assert [r["target"] for r in rows] == [f"account:{second}"]
    assert rows[0]["account"].startswith(names[second])
    web.user.find(marker="audit-account").elements.pop().set_value(str(first))
    rows = await _rows(web, lambda rows: [r["target"] for r in rows] == [f"account:{first}"])
    web.user.find(marker="audit-account").elements.pop().set_value("")
    await _rows(web, lambda rows: {f"account:{first}", f"account:{second}"} <= {r["target"] for r in rows})
