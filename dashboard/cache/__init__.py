"""The one cache API in front of the query services: two tiers, single flight, write invalidation.

`QueryCache.get(key, loader)` is the only read path; `QueryCache.invalidate(touched)` the only
write path. Everything else in this package is a part of those two.
"""

from dashboard.cache.cache import CachedValue, QueryCache
from dashboard.cache.keys import CacheKey, cache_key

__all__ = ["CacheKey", "CachedValue", "QueryCache", "cache_key"]
