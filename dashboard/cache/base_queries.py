"""What every part of the cached query services shares: the database, the cache and `_get`.

`CachedQueries` is assembled from parts (one module per area: incidents as work items, limits,
objectives, people) so that an area's reads sit next to each other without one file growing
without end; each part reaches the cache only through `_get`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from dashboard.cache.cache import QueryCache
from dashboard.cache.keys import cache_key
from dashboard.cache.local import CachedValue
from dashboard.db.session import Database
from dashboard.schemas.common import ReadModel
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer

M = TypeVar("M", bound=ReadModel)


@dataclass(frozen=True, slots=True)
class Cached(Generic[M]):
    """A cached result: `payload` is the JSON the API sends as is, `model` what pages read."""

    value: CachedValue
    model_type: type[M]

    @property
    def payload(self) -> bytes:
        return self.value.payload

    @property
    def model(self) -> M:
        return self.value.model(self.model_type)

    @property
    def content(self) -> bytes:
        """The data without the moment it was read (see `CachedValue.content`)."""
        return self.value.content(self.model_type)

    @property
    def as_of(self) -> datetime | None:
        as_of = getattr(self.model, "as_of", None)
        return as_of if isinstance(as_of, datetime) else None


class QueriesBase:
    db: Database
    cache: QueryCache

    async def _get(
        self,
        family: Family,
        scope: Viewer | str,
        model: type[M],
        loader: Callable[[], Awaitable[M]],
        **params: object,
    ) -> Cached[M]:
        key = cache_key(family, scope, model, **params)
        return Cached(await self.cache.get(key, loader), model)
