"""Cached reads of ... (a part of `CachedQueries`, kept in its own module)."""

from __future__ import annotations

from dashboard.cache.base_queries import QueriesBase


class ObjectiveQueries(QueriesBase):
    """Mixed into `dashboard.cache.queries.CachedQueries`."""
