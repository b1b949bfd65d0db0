"""Helpers of the browser tests of the configuration pages: a logged-in Chromium page, the
axe-core check, and the screenshots the documentation shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.console.conftest import PASSWORD

AXE = Path(__file__).with_name("axe.min.js")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "console"


def logged_in(browser: Any, base_url: str, login: str, password: str = PASSWORD) -> Any:
    """A page of a new browser context, logged in to the console as ``login``. CSP is
    bypassed only so that axe-core can be injected; the pages never rely on it."""
    context = browser.new_context(base_url=base_url, bypass_csp=True)
    page = context.new_page()
    page.goto("/console/login")
    page.fill("#f-email", login)
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/devices**")
    return page


def serious_violations(page: Any) -> list[str]:
    """The ids of axe-core's serious and critical violations on the page, with their nodes."""
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        """() => axe.run().then(r => r.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"""
    )
    return found


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
