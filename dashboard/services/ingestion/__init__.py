"""The writing side: record syncs, equity snapshots, quotes and position opens.

Each service validates its whole input first, then writes in one transaction: invalid input
raises `InvalidInput` and changes nothing. Each returns which scopes it touched, so the cache can
invalidate exactly those.
"""
