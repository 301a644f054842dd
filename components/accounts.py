"""Accounts as people know them: tables show the account's name, with its broker login on hover."""

from __future__ import annotations

from dataclasses import dataclass

from components.live import LivePage
from dashboard.schemas.accounts import AccountList


@dataclass(frozen=True)
class AccountLabel:
    name: str
    login: str

    @property
    def long(self) -> str:
        """`Name (login)`: where there is room (selectors, headings)."""
        return f"{self.name} ({self.login})"


UNKNOWN = AccountLabel("–", "")


async def accounts(live: LivePage) -> AccountList:
    """The accounts the viewer may see (a cached read: the same object while nothing changed)."""
    return (await live.runtime.queries.list_accounts(live.principal.viewer)).model


def labels_of(listed: AccountList) -> dict[int, AccountLabel]:
    return {a.id: AccountLabel(a.name, str(a.broker_login)) for a in listed.accounts}


async def account_labels(live: LivePage) -> dict[int, AccountLabel]:
    """The labels of the accounts the viewer may see."""
    return labels_of(await accounts(live))


def label_of(labels: dict[int, AccountLabel], account_id: int | None) -> AccountLabel:
    if account_id is None:
        return UNKNOWN
    return labels.get(account_id, AccountLabel(f"#{account_id}", ""))
