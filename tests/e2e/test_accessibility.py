"""Accessibility in chromium with axe-core (npm, pinned in package.json; `scripts/ensure_env.sh`
installs it): the login page and every page of a risk user, in light and in dark mode, once their
data has loaded, must have no `critical` or `serious` WCAG 2.0/2.1 A and AA violation.

Every check prints its counts (run with `-s` to see them) and saves axe's violations to
`artifacts/axe/`; a failure lists each violation (rule, impact, help and the first elements it hit).
Screenshots of each page and mode go to `artifacts/screenshots/a11y-*.png`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import service_missing
from tests.e2e.conftest import login, shot
from tests.process import REPO

pytestmark = pytest.mark.browser

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("critical", "serious")
MODES = ("light", "dark")
DATA_TIMEOUT = 20_000


def _reconciliation_loaded(page: Page) -> None:
    total = page.locator(".text-2xl").first  # the first status card: total syncs
    expect(total).to_have_text(re.compile(r"^[\d,]+$"), timeout=DATA_TIMEOUT)
    # The timeline: counted bars over 24 h (the default) and 7 d, the incidents' points over 1 h and 6 h.
    timeline = page.locator(".js-plotly-plot :is(.barlayer, .scatterlayer)").first
    expect(timeline).to_be_attached(timeout=DATA_TIMEOUT)


def _positions_loaded(page: Page) -> None:
    totals = page.get_by_text(re.compile(r"^Floating P&L incl\. swap: [A-Z]{3} "))
    expect(totals).to_be_visible(timeout=DATA_TIMEOUT)


def _guards_loaded(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"^equity [\d,.]+ ")).first).to_be_visible(timeout=DATA_TIMEOUT)
    expect(page.locator(".indicatorlayer").first).to_be_attached(timeout=DATA_TIMEOUT)


def _risk_loaded(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"^\d+ accounts: "))).to_be_visible(timeout=DATA_TIMEOUT)
    expect(page.locator(".indicatorlayer").first).to_be_attached(timeout=DATA_TIMEOUT)


def _account_loaded(page: Page) -> None:
    expect(page.locator(".q-table tbody tr").first).to_be_visible(timeout=DATA_TIMEOUT)  # the limits
    expect(page.locator(".indicatorlayer").first).to_be_attached(timeout=DATA_TIMEOUT)


def _audit_loaded(page: Page) -> None:
    expect(page.locator(".q-table tbody tr").first).to_be_visible(timeout=DATA_TIMEOUT)


# Each page with what shows that its data is there (the admin page is checked by its own test).
PAGES: dict[str, Callable[[Page], None]] = {
    "/reconciliation": _reconciliation_loaded,
    "/positions": _positions_loaded,
    "/guards": _guards_loaded,
    "/risk": _risk_loaded,
    "/accounts/1": _account_loaded,
    "/audit": _audit_loaded,
}


def settled(page: Page) -> None:
    """Every panel has shown its first data ("as of …" instead of "loading…"), charts have drawn."""
    expect(page.get_by_text("loading…")).to_have_count(0, timeout=DATA_TIMEOUT)
    page.wait_for_timeout(800)  # Plotly's redraw and Quasar's transitions


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"  {v['impact']:9} {v['id']}: {v['help']} -> {targets}{more}")
    return "\n".join(lines)


def check(page: Page, name: str) -> None:
    """Run axe, print the counts (and every violation), save them, and fail on critical/serious."""
    violations = axe_violations(page)
    counts = {impact: sum(v["impact"] == impact for v in violations) for impact in BLOCKING}
    print(f"\naxe {name}: critical={counts['critical']} serious={counts['serious']} total={len(violations)}")
    if violations:
        print(describe(violations))
    out = REPO / "artifacts" / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(violations, indent=1))
    shot(page, f"a11y-{name}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    summary = f"axe found {len(blocking)} critical/serious violation(s) on {name}:\n"
    assert not blocking, summary + describe(blocking)


@pytest.fixture(scope="module", autouse=True)
def axe_installed() -> None:
    if not AXE.exists():
        service_missing("axe-core (`bash scripts/ensure_env.sh` runs `npm ci`)", FileNotFoundError(AXE))


@pytest.fixture(scope="module")
def risk_user(base: str, browser: Browser) -> Iterator[BrowserContext]:
    """One logged-in desktop context for every page check (its pages share the session cookie)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    login(context.new_page(), base, "risk@demo.local")
    yield context
    context.close()


def set_mode(page: Page, mode: str) -> None:
    """Press the frame's dark-mode button when the page is not in `mode` yet, as a user does (found
    by its accessible name; the choice is remembered per user, so a page may open in either)."""
    button = page.get_by_role("button", name="Dark mode")
    wanted = "true" if mode == "dark" else "false"
    if button.get_attribute("aria-pressed") != wanted:
        button.click()
    expect(page.locator("body")).to_have_class(re.compile(rf"\bbody--{mode}\b"))
    expect(button).to_have_attribute("aria-pressed", wanted)
    page.wait_for_timeout(400)  # colour transitions


@pytest.mark.parametrize("mode", MODES)
def test_login_page_has_no_serious_violations(base: str, browser: Browser, mode: str) -> None:
    """The login page follows the system's light or dark preference (emulated here)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme=mode)
    page = context.new_page()
    page.goto(f"{base}/login?error=invalid")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page.locator("body")).to_have_class(re.compile(rf"\bbody--{mode}\b"))
    expect(page.get_by_role("heading", level=1)).to_have_text("TeleBot Live Dashboard")
    page.wait_for_timeout(300)
    check(page, f"login-{mode}")
    context.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", list(PAGES))
def test_page_has_no_serious_violations(base: str, risk_user: BrowserContext, path: str, mode: str) -> None:
    page = risk_user.new_page()
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    PAGES[path](page)
    settled(page)
    set_mode(page, mode)
    check(page, f"{path.strip('/').replace('/', '-')}-{mode}")
    page.close()


def test_the_dark_mode_choice_is_remembered_across_pages(base: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, base, "trader2@demo.local")
    set_mode(page, "dark")
    page.goto(f"{base}/positions")
    expect(page.locator("body")).to_have_class(re.compile(r"\bbody--dark\b"))
    set_mode(page, "light")
    page.goto(f"{base}/guards")
    expect(page.locator("body")).to_have_class(re.compile(r"\bbody--light\b"))
    context.close()
