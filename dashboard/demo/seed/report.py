"""What a seed tells its caller: the counts it wrote and, on request, a progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

__all__ = ["Progress", "SeedReport"]


@dataclass(frozen=True)
class SeedReport:
    """What one seed wrote; `summary()` is the line the CLI prints."""

    users: int
    accounts: int
    equity_snapshots: int
    syncs: int
    incidents: int
    positions_open: int
    positions_closed: int
    guard_events: int
    seconds: float
    logins: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"seeded {self.users} users, {self.accounts} accounts, "
            f"{self.equity_snapshots} equity snapshots, {self.syncs} syncs, {self.incidents} incidents, "
            f"{self.positions_open} open / {self.positions_closed} closed positions, "
            f"{self.guard_events} guard events in {self.seconds:.1f} s"
        )


class Progress:
    """A single `\\r`-rewritten line on stderr; silent unless enabled."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.done = enabled, max(1, total), 0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(f"\rseeding demo data [{bar}] {self.done}/{self.total} {label:<24}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
