"""Closed tabs are collected (and their memory released) once, at the next period."""

from __future__ import annotations

import gc

from dashboard.gc_tuning import ClosedTabs, release_free_memory


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collects_and_releases_only_after_tabs_closed() -> None:
    released: list[int] = []
    closed = ClosedTabs(release=lambda: released.append(1))
    closed.collect()
    assert closed.collections == 0 and not released  # nothing closed: nothing to do
    gc.disable()  # so that only the collection under test frees the cycle
    try:
        garbage = Cycle()
        alive = {id(garbage)}
        del garbage
        closed.deleted()
        closed.deleted()
        closed.collect()
        assert not any(id(o) in alive and isinstance(o, Cycle) for o in gc.get_objects())
    finally:
        gc.enable()
    assert closed.collections == 1 and released == [1]
    closed.collect()
    assert closed.collections == 1 and released == [1]  # once per batch of closes


def test_release_uses_the_c_library_on_this_machine() -> None:
    assert release_free_memory() is True  # Debian's glibc has malloc_trim
