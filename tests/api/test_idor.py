"""IDOR: trader A asks for trader B's things through every endpoint; nothing of B's leaks, and
"B's" answers exactly like "does not exist"."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import Api
from tests.factories import T0

WINDOW = {"since": (T0 - timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
MISSING = 9_999_999


async def test_b_s_objects_answer_404_exactly_like_missing_ones(api: Api) -> None:
    b_account, b_position = api.world.account["b"], api.world.position["b"]
    probes = [
        ("/api/v1/positions/{}", b_position, None, {}),
        ("/api/v1/accounts/{}/equity", b_account, None, WINDOW),
        ("/api/v1/positions", b_account, "account_id", {}),
        ("/api/v1/reconciliation/timeline", b_account, "account_id", WINDOW),
        ("/api/v1/guards/events", b_account, "account_id", {}),
    ]
    for template, b_id, param, extra in probes:

        def ask(
            who: str, ident: int, template: str = template, param: str | None = param, extra: dict = extra
        ):  # type: ignore[no-untyped-def,type-arg]
            path = template.format(ident)
            params = {**extra, **({param: str(ident)} if param else {})}
            return api.get(path, who, params=params)

        theirs = await ask("a", b_id)
        missing = await ask("a", MISSING)
        assert theirs.status_code == 404, template
        assert missing.status_code == 404, template
        # Same body apart from the id itself: no oracle telling "exists but not yours".
        assert theirs.json()["detail"].replace(str(b_id), "ID") == missing.json()["detail"].replace(
            str(MISSING), "ID"
        )
        # ...and B can see their own.
        assert (await ask("b", b_id)).status_code == 200, template


async def test_lists_of_a_contain_nothing_of_b(api: Api) -> None:
    b_ids = {api.world.account["b"]}
    b_user = api.world.users["b"]
    lists = {
        "/api/v1/accounts": ("accounts", "id"),
        "/api/v1/positions": ("positions", "account_id"),
        "/api/v1/reconciliation/timeline": ("incidents", "account_id"),
        "/api/v1/guards/events": ("events", "account_id"),
    }
    for path, (field, key) in lists.items():
        body = (await api.get(path, "a", params=WINDOW if "timeline" in path else {})).json()
        seen = {row[key] for row in body[field]}
        assert seen and not seen & b_ids, path
    status = (await api.get("/api/v1/reconciliation/status", "a")).json()
    assert status["user_id"] != b_user and {e["account_id"] for e in status["recent_events"]}.isdisjoint(
        b_ids
    )
    guards = (await api.get("/api/v1/guards/status", "a")).json()
    assert {g["account_id"] for g in guards["guards"]["accounts"]} == {api.world.account["a"]}
    # The whole raw answers never mention B's account or position ids at all.
    for path in (
        "/api/v1/accounts",
        "/api/v1/positions",
        "/api/v1/guards/status",
        "/api/v1/reconciliation/status",
    ):
        text = (await api.get(path, "a")).text
        assert (
            f'"account_id":{api.world.account["b"]},' not in text
            and f'"id":{api.world.position["b"]},' not in text
        )


async def test_cached_answers_of_b_are_never_served_to_a(api: Api) -> None:
    """B reads first (filling the cache), then A asks the very same questions."""
    for path in (
        "/api/v1/positions",
        "/api/v1/accounts",
        "/api/v1/guards/status",
        "/api/v1/reconciliation/status",
    ):
        b_body = (await api.get(path, "b")).json()
        a_body = (await api.get(path, "a")).json()
        assert a_body != b_body, path
    assert (await api.get(f"/api/v1/positions/{api.world.position['b']}", "a")).status_code == 404
