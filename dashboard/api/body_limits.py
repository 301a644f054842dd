"""How large a request body may be, per route: larger ones are refused with 413 before they are read.

Enforced by FastAPI's own `max_body_size` (Starlette's body-limit middleware): a declared
`Content-Length` over the limit is refused at the first read, and a chunked body as soon as it
passes the limit. Why: a 10 MB login body used to be parsed (754 ms) before its 422, and bodies of
100,000 JSON keys slowed every read served beside them. The README lists these limits.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

#: A sync carries up to 1,000 positions and 1,000 exit deals (about 600 KB at the very most).
SYNC_LIMIT = 1 * MIB
#: Up to 1,000 quotes (about 150 KB).
QUOTES_LIMIT = 256 * KIB
#: One equity snapshot or one position open.
INGEST_LIMIT = 16 * KIB
#: Login, refresh and logout bodies.
AUTH_LIMIT = 4 * KIB
#: The login form of the pages (e-mail, password and the page to return to).
SESSION_FORM_LIMIT = 8 * KIB
#: Everything else: reads have no body at all.
DEFAULT_LIMIT = 16 * KIB

#: (path, limit) for documentation and tests; the routes declare their own.
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/v1/ingest/syncs", SYNC_LIMIT),
    ("/api/v1/ingest/quotes", QUOTES_LIMIT),
    ("/api/v1/ingest/equity", INGEST_LIMIT),
    ("/api/v1/ingest/positions", INGEST_LIMIT),
    ("/api/v1/auth/login", AUTH_LIMIT),
    ("/api/v1/auth/refresh", AUTH_LIMIT),
    ("/auth/session", SESSION_FORM_LIMIT),
)
