"""NiceGUI's storage in the cache's Redis, set up before NiceGUI is imported (the cluster tests show
a preference following a user from one process to another)."""

from __future__ import annotations

import subprocess
import sys

import nicegui  # noqa: F401  (imported, as in every test process)
import pytest

from dashboard.settings import Settings
from dashboard.web.shared_storage import KEY_PREFIX_VARIABLE, REDIS_URL_VARIABLE, use_shared_storage
from tests.process import REPO, clean_env


def test_without_redis_nicegui_keeps_its_files() -> None:
    environ: dict[str, str] = {}
    assert use_shared_storage(Settings(redis_url=None), environ) is False
    assert environ == {}


def test_after_nicegui_is_imported_it_is_refused_rather_than_silently_ignored() -> None:
    with pytest.raises(RuntimeError, match="before NiceGUI is imported"):
        use_shared_storage(Settings(redis_url="redis://127.0.0.1:6379/0"), {})


def test_nicegui_imported_afterwards_keeps_its_storage_in_redis_under_the_cache_namespace() -> None:
    program = (
        "from dashboard.settings import Settings\n"
        "from dashboard.web.shared_storage import use_shared_storage\n"
        "use_shared_storage(Settings(redis_url='redis://127.0.0.1:1/0', cache_namespace='ns1'))\n"
        "from nicegui.storage import Storage\n"
        "print(Storage.redis_url, Storage.redis_key_prefix)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["redis://127.0.0.1:1/0", "ns1:nicegui:"]
    assert (REDIS_URL_VARIABLE, KEY_PREFIX_VARIABLE) == ("NICEGUI_REDIS_URL", "NICEGUI_REDIS_KEY_PREFIX")
