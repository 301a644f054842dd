"""The in-process tier: a bounded LRU of encoded values with a TTL, indexed by (family, scope).

Expired entries are kept until the LRU bounds push them out: during a database outage they are
the last values this process saw (`stale`). Invalidated entries are dropped at once.

Each entry keeps the bytes (what the API sends) and, decoded at most once, the model (what pages
use), so a hundred tabs polling one key decode it once per fill, not a hundred times.

Generations guard a race: a value loaded while an invalidation arrived is not stored, because
the loader captured the generation before it queried the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from dashboard.cache.keys import CacheKey

M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class CachedValue:
    """Encoded JSON bytes plus the decoded model, decoded lazily and at most once."""

    payload: bytes
    _models: dict[type[BaseModel], BaseModel] = field(default_factory=dict)
    _content: bytes | None = None

    def model(self, cls: type[M]) -> M:
        decoded = self._models.get(cls)
        if decoded is None:
            decoded = cls.model_validate_json(self.payload)
            self._models[cls] = decoded
        return decoded  # type: ignore[return-value]

    def content(self, cls: type[BaseModel]) -> bytes:
        """The payload without the moments of its read (`READ_MOMENTS`, e.g. `as_of`): equal for
        two loads that found the same data, so a page can tell "reloaded" from "changed" (computed
        at most once per value, shared by all tabs)."""
        if self._content is None:
            model = self.model(cls)
            moments = set(getattr(cls, "READ_MOMENTS", ())) & set(cls.model_fields)
            self._content = model.model_dump_json(exclude=moments).encode() if moments else self.payload
        return self._content


@dataclass(slots=True)
class _Entry:
    value: CachedValue
    expires_at: float


Generation = tuple[int, int]


class LocalTier:
    def __init__(
        self, *, max_entries: int, max_bytes: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._index: defaultdict[tuple[str, str], set[CacheKey]] = defaultdict(set)
        self._family_gen: defaultdict[str, int] = defaultdict(int)
        self._scope_gen: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> CachedValue | None:
        """The value while it is fresh. An expired entry stays (LRU-bounded) for `stale`."""
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= self._clock():
            return None
        self._entries.move_to_end(key)
        return entry.value

    def stale(self, key: CacheKey) -> CachedValue | None:
        """The last value stored for `key`, fresh or not, unless an invalidation dropped it: what
        a reader gets when the database is down (it is never a value a write made wrong)."""
        entry = self._entries.get(key)
        return entry.value if entry is not None else None

    def generation(self, key: CacheKey) -> Generation:
        return self._family_gen[key.family], self._scope_gen[(key.family, key.scope)]

    def put(self, key: CacheKey, value: CachedValue, ttl_s: float, generation: Generation) -> bool:
        """Store unless an invalidation of the key's scope happened since `generation` was read."""
        if generation != self.generation(key):
            return False
        size = len(value.payload)
        if size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(value, self._clock() + ttl_s)
        self._index[(key.family, key.scope)].add(key)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def invalidate(self, items: Iterable[tuple[str, str | None]]) -> int:
        """Drop (family, scope) entries; scope None drops the whole family. Returns entries dropped."""
        dropped = 0
        for family, scope in items:
            if scope is None:
                self._family_gen[family] += 1
                scopes = [pair for pair in self._index if pair[0] == family]
            else:
                self._scope_gen[(family, scope)] += 1
                scopes = [(family, scope)]
            for pair in scopes:
                for key in list(self._index.get(pair, ())):
                    self._drop(key)
                    dropped += 1
        return dropped

    def clear(self) -> None:
        """Forget everything (after a pub/sub reconnect some invalidations may have been missed)."""
        for family in {family for family, _ in self._index} | set(self._family_gen):
            self._family_gen[family] += 1
        self._entries.clear()
        self._index.clear()
        self.bytes = 0

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.bytes -= len(entry.value.payload)
        pair = (key.family, key.scope)
        keys = self._index.get(pair)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._index[pair]

    def snapshot(self) -> dict[str, Any]:
        return {"entries": len(self._entries), "bytes": self.bytes}
