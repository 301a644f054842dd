"""The demo channel: an Apprise plugin that appends to a local file, read back newest first."""

from __future__ import annotations

from pathlib import Path

from dashboard.demo.alerts import TAIL_BYTES, read_demo_log
from dashboard.domain.enums import AlertState, Level
from dashboard.services.alerts.sender import Message, apprise_send


def message(n: int) -> Message:
    return Message(
        f"[CRITICAL] breach {n}", f"breach {n}\nAccount: 7", f"k-{n}", Level.CRITICAL, AlertState.RAISED
    )


async def test_messages_sent_to_the_demo_channel_are_read_back_newest_first(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "demo-alerts.log"
    assert read_demo_log(log) == []
    for n in range(3):
        assert await apprise_send(f"demolog://{log}", message(n)) is None
    shown = read_demo_log(log, max_messages=2)
    assert len(shown) == 2
    assert shown[0].startswith("--- ") and "[CRITICAL] breach 2" in shown[0] and "Account: 7" in shown[0]
    assert "[CRITICAL] breach 1" in shown[1]


async def test_a_long_log_is_read_from_its_end_only(tmp_path: Path) -> None:
    log = tmp_path / "demo-alerts.log"
    filler = "x" * 200
    with log.open("w") as f:
        for n in range(TAIL_BYTES // 200 + 50):
            f.write(f"--- t [WARNING] old {n}\n{filler}\n")
    assert await apprise_send(f"demolog://{log}", message(99)) is None
    shown = read_demo_log(log, max_messages=1000)
    assert "[CRITICAL] breach 99" in shown[0]
    assert all(s.startswith("--- t [WARNING] old") or "breach 99" in s for s in shown)
    assert len(shown) < TAIL_BYTES // 200 + 50  # not the whole file
