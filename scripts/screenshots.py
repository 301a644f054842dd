"""Take the README's screenshots (`docs/screenshots/*.png`) of the demo, as a user sees it.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Seeds a throwaway demo database, runs the app on it (`run --demo`, the simulator moving), logs in
through the login form with Debian's chromium (Playwright's `executable_path`, never `playwright
install`) as the demo's risk officer, trader and admin, and captures each page once its panels
have data. Nothing here is needed to run or test the dashboard.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.process import run_cli, running_app  # noqa: E402  (the repo's own app runner)

CHROMIUM = "/usr/bin/chromium"
WIDE = {"width": 1440, "height": 900}
#: A throwaway secret for the throwaway app (never a deployment's).
SECRET = "screenshots-only-" + "x" * 40


@dataclass(frozen=True)
class Shot:
    name: str
    email: str
    path: str
    #: A CSS selector that shows the page has its data.
    ready: str


SHOTS = [
    Shot("risk", "risk@demo.local", "/risk", ".indicatorlayer"),
    Shot("reconciliation", "risk@demo.local", "/reconciliation", ".q-table tbody tr"),
    Shot("positions", "trader1@demo.local", "/positions", ".q-table tbody tr"),
    Shot("guards", "trader4@demo.local", "/guards", ".indicatorlayer"),
    Shot("account", "risk@demo.local", "/accounts/7", ".indicatorlayer"),
    Shot("admin", "admin@demo.local", "/admin", ".q-table tbody tr"),
    Shot("audit", "admin@demo.local", "/audit", ".q-table tbody tr"),
]


def login(page: Page, base: str, email: str, path: str) -> None:
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill("demo")
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "DASHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'shots.sqlite3'}",
            "DASHBOARD_JWT_SECRET": SECRET,
        }
        if run_cli("demo", "seed", **env).returncode != 0:
            raise SystemExit("screenshots: the demo seed failed")
        with running_app("--demo", log_path=Path(tmp) / "app.log", **env) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            for shot in SHOTS:
                context = browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
                page = context.new_page()
                login(page, base, shot.email, shot.path)
                page.locator(shot.ready).first.wait_for(timeout=20_000)
                expect(page.get_by_text("loading…")).to_have_count(0, timeout=20_000)
                page.wait_for_timeout(3_000)  # a tick or two: charts drawn, "as of" lines set
                target = out / f"{shot.name}.png"
                page.screenshot(path=str(target), full_page=False)
                taken.append(target)
                context.close()
            browser.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
