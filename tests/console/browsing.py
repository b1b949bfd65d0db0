"""The configuration pages' browser tests start here: a logged-in Chromium page (the checks
and screenshots are ``test_browser``'s: axe-core, ``docs/console/``)."""

from __future__ import annotations

from typing import Any

from tests.console.test_browser import WAIT_MS, no_serious_violation, shoot

__all__ = ["logged_in", "no_serious_violation", "shoot"]


def logged_in(browser: Any, base_url: str, login: str, password: str) -> Any:
    """A page of a new browser context, logged in to the console as ``login``. CSP is
    bypassed only so that axe-core can be injected; the pages never rely on it."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/console/login")
    page.get_by_label("Email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/devices**")
    return page
