"""Who the client is behind a reverse proxy: `X-Forwarded-For`/`-Proto` believed only from the
proxies named in `DASHBOARD_TRUSTED_PROXIES`.

Login throttling per address and the audit log key on the client's address, and the session cookie
is `Secure`/`__Host-` only over HTTPS. Behind HAProxy every request comes from the proxy, so without
its header 20 failures from anyone would lock everyone out; believing the header from anyone would
let a client pick its own address (and dodge the throttle) or claim HTTPS. uvicorn's own
`ProxyHeadersMiddleware` does the parsing (the right-most address not in the trusted set is the
client); it runs here, in the app, rather than in uvicorn's server, so there is one setting and the
in-process tests exercise the same path. uvicorn's server-side default (trust 127.0.0.1) is off.
"""

from __future__ import annotations

from collections.abc import Sequence

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dashboard.web.guards import ASGIApp


def behind_proxies(app: ASGIApp, trusted: Sequence[str]) -> ASGIApp:
    """`app` seeing the client address and scheme the trusted proxies report; `app` itself when
    there are none."""
    if not trusted:
        return app
    return ProxyHeadersMiddleware(app, trusted_hosts=list(trusted))  # type: ignore[arg-type,return-value]
