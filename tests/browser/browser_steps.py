"""What people do in the browser tests: find their inbox, open a task, submit, read the flash."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

# Counts the page's open XMLHttpRequests (htmx uses them) so a test can wait for quiet; add it
# with page.add_init_script before the first page loads.
COUNT_REQUESTS = """
window.__openRequests = 0;
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (...args) {
  window.__openRequests++;
  this.addEventListener("loadend", () => setTimeout(() => window.__openRequests--, 0));
  return send.apply(this, args);
};
"""
LIVE_CHECK_DELAY_MS = 450  # forms' typing trigger fires 400 ms after the last key


def live_checks_done(page: Page) -> None:
    """Wait until every live check has been answered and applied to the page."""
    page.wait_for_timeout(LIVE_CHECK_DELAY_MS)
    page.wait_for_function(
        "() => window.__openRequests === 0"
        " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def main_nav(page: Page) -> Locator:
    """The site's main navigation."""
    return page.get_by_role("navigation", name="Main")


def inbox_row(page: Page, subject: str) -> Locator:
    """The inbox rows of tasks about `subject`."""
    return page.locator("tbody tr", has_text=subject)


def open_task(page: Page, name: str, subject: str) -> None:
    """Open a waiting task the way a person does: from the inbox row of its subject."""
    main_nav(page).get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    inbox_row(page, subject).get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def submit(page: Page, label: str = "Submit") -> None:
    """Press the form's button."""
    page.get_by_role("button", name=label, exact=True).click()


def flash(page: Page) -> Locator:
    """The message shown after an action."""
    return page.locator("#flash-region .flash")
