"""Cache tests use the Redis and cache fixtures of `tests/conftest.py`: the real Redis on a
namespace of the test's own, and cache instances that stand for separate app processes."""

from tests.conftest import CacheFactory

__all__ = ["CacheFactory"]
