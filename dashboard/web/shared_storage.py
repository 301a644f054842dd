"""Preferences shared by every process: NiceGUI's storage in Redis when the cache has a Redis.

The live pages keep each user's refresh interval and dark mode in `app.storage.general`. With
one process a file is enough; behind a proxy the next page may come from another process, which
must remember the same choice. NiceGUI keeps that storage in Redis when `NICEGUI_REDIS_URL` is set,
and reads the variable (and loads the general storage) when `nicegui` is first imported: so this
runs before anything imports NiceGUI (`python -m dashboard run` calls it first), and refuses to
run after, when it could no longer take effect.
"""

from __future__ import annotations

import os
import sys

from dashboard.settings import Settings

REDIS_URL_VARIABLE = "NICEGUI_REDIS_URL"
KEY_PREFIX_VARIABLE = "NICEGUI_REDIS_KEY_PREFIX"


def use_shared_storage(settings: Settings, environ: dict[str, str] | None = None) -> bool:
    """Point NiceGUI's storage at the cache's Redis, under the cache's namespace. True when set.

    Without Redis (the embedded default) NiceGUI keeps its files, which one process is all there is.
    """
    target = os.environ if environ is None else environ
    if settings.redis_url is None:
        return False
    if "nicegui.storage" in sys.modules:
        raise RuntimeError("shared storage must be set up before NiceGUI is imported")
    target[REDIS_URL_VARIABLE] = settings.redis_url
    target[KEY_PREFIX_VARIABLE] = f"{settings.cache_namespace}:nicegui:"
    return True
