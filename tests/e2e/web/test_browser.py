"""The dashboard in a real headless Chromium: sign in from the link the bot DMed on Telegram, then each page as a
person sees it. Every page visited is saved as a screenshot (tests.fixtures.browser.Screenshots)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from adapters.web.streams import ROWS_SHOWN
from core.dashboard import Cursor
from tests.e2e.web.conftest import ADMIN, APPROVER, MEMBER, OPERATOR, Stack

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")]

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
OTHER = "0x00000000000000000000000000000000000000aa"
TX = re.compile(r"0x[0-9a-f]{64}")
ROWS = 1200  # several chunks, so the page shows the batch part-way as well as done
WAIT_S = 30  # a ceiling for what the page must show; the tests wait for it, never a fixed sleep


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def main_text(browser) -> str:  # noqa: ANN001 - a Selenium WebDriver
    return browser.find_element(By.TAG_NAME, "main").text


def sign_in(stack: Stack, browser, person) -> str:  # noqa: ANN001
    """Follow the link from the person's DM; the page's script presses Sign in. Returns the link."""
    link = stack.sign_in_link(person)
    browser.get(link)
    WebDriverWait(browser, WAIT_S).until(lambda b: "/login" not in b.current_url)
    return link


def status_of(browser, path: str, method: str = "GET", form: dict | None = None) -> int:  # noqa: ANN001
    """The HTTP status the browser gets for a request with its own cookies (fetch from the page's origin)."""
    return browser.execute_async_script(
        """const [path, method, form, done] = arguments;
        const body = form ? new URLSearchParams(form) : undefined;
        fetch(path, {method, body, credentials: "same-origin", redirect: "manual"}).then(r => done(r.status));""",
        path, method, form)


def report_text(browser) -> str:  # noqa: ANN001
    """The batch's report, read in one script call: the live swap may replace the element between two calls."""
    return browser.execute_script('return document.getElementById("batch-report").textContent')


def row_statuses(browser) -> list[str]:  # noqa: ANN001
    """The Status cell of every row the batch page lists, read in one call rather than one per row."""
    return browser.execute_script(
        'return Array.from(document.querySelectorAll("#rows td.row-status"), td => td.textContent)')


@pytest.fixture(scope="module")
def paid(stack: Stack) -> list[str]:
    """A few payments from the operator in chat, in two tokens: the ledger and the chart have something to show."""
    hashes = []
    for text in (f"/pay {RECIPIENT} 1.5 CRO", f"/pay {OTHER} 2 USDC", f"/pay {RECIPIENT} 0.25 USDC"):
        reply = stack.say(OPERATOR, text)
        assert "confirmed" in plain(reply.text), reply.text
        hashes.append(TX.search(reply.text).group(0))
    return hashes


def test_sign_in_from_the_telegram_dm_and_see_the_treasury(stack, browser, screenshots, paid):
    sign_in(stack, browser, OPERATOR)
    assert urlsplit(browser.current_url).path == "/treasury"
    cookie = browser.get_cookie("snowrail_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    balances = {row.find_elements(By.TAG_NAME, "td")[0].text: row.text
                for row in browser.find_elements(By.CSS_SELECTOR, "#balances tbody tr")}
    assert {"CRO", "USDC"} <= set(balances) and "CRO" in balances["CRO"]
    assert "gas:" in browser.find_element(By.ID, "gas").text
    charts = browser.find_elements(By.CSS_SELECTOR, "figure svg")
    assert charts, "the spending chart is missing although payments were made today"
    screenshots.save(browser, "treasury")


def test_a_replayed_sign_in_link_is_refused(stack, browser, screenshots):
    link = sign_in(stack, browser, OPERATOR)
    browser.delete_all_cookies()  # another browser, or the same person later: the link is spent either way
    browser.get(link)
    assert "already used" in main_text(browser)
    screenshots.save(browser, "sign-in-link-used")
    browser.get(stack.url + "/treasury")
    assert "Please sign in" in main_text(browser) and not browser.find_elements(By.ID, "balances")
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    browser.get(forged)
    assert "not valid" in main_text(browser)


def test_filter_the_ledger_and_page_through_it(stack, browser, screenshots, paid):
    sign_in(stack, browser, OPERATOR)
    browser.get(stack.url + "/ledger")
    every = browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")
    assert len(every) >= 3
    screenshots.save(browser, "ledger")

    Select(browser.find_element(By.NAME, "token")).select_by_visible_text("USDC")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: "token=USDC" in b.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")
    assert rows and all("USDC" in r.text for r in rows)
    shown = main_text(browser)
    assert paid[1][:10] in shown and paid[2][:10] in shown and paid[0][:10] not in shown  # the CRO one is gone
    export = browser.find_element(By.LINK_TEXT, "Export CSV").get_attribute("href")
    assert parse_qs(urlsplit(export).query)["token"] == ["USDC"]  # the export keeps the filter
    screenshots.save(browser, "ledger-usdc")

    for query, says in [("from=2026-13-01", "from:"), ("from=2020-01-01&to=2026-01-01", "too wide"),
                        ("token=DOGE", "token:"), ("status=lost", "status:"), ("after=bm90LWEtY3Vyc29y", "after:")]:
        browser.get(f"{stack.url}/ledger?{query}")
        assert says in main_text(browser), query
        assert "Something went wrong" not in main_text(browser)
        assert status_of(browser, f"/ledger?{query}") == 400
    screenshots.save(browser, "ledger-bad-filter")
    past_the_end = Cursor(datetime(2000, 1, 1, tzinfo=UTC), "", 0, "pay-none").encode()
    browser.get(f"{stack.url}/ledger?after={past_the_end}")
    assert "past the end" in main_text(browser) and browser.find_elements(By.LINK_TEXT, "Back to the first page")


def test_a_member_gets_a_403_page_for_the_treasury(stack, browser, screenshots):
    sign_in(stack, browser, MEMBER)
    assert urlsplit(browser.current_url).path == "/ledger" and "Your payments" in main_text(browser)
    assert "Treasury" not in browser.find_element(By.TAG_NAME, "nav").text
    browser.get(stack.url + "/treasury")
    assert "Not for your role" in main_text(browser) and not browser.find_elements(By.ID, "balances")
    assert status_of(browser, "/treasury") == 403
    screenshots.save(browser, "treasury-403-for-a-member")


def test_approve_in_the_browser_and_see_it_paid_in_chat(stack, browser, screenshots):
    asked = stack.say(OPERATOR, f"/pay {RECIPIENT} 60 CRO")
    pid = re.search(r"(pay-[a-z0-9]+) awaiting approval", plain(asked.text)).group(1)
    sign_in(stack, browser, APPROVER)
    browser.get(stack.url + "/approvals")
    card = browser.find_element(By.ID, f"approval-{pid}")
    assert "60 CRO" in card.text and RECIPIENT in card.text.lower()
    screenshots.save(browser, "approvals")

    # Without its CSRF token the same form is refused, and the request still waits. The form goes through htmx
    # (hx-boost), which by default drops a 4xx answer: the person must still see the refusal page.
    browser.execute_script("arguments[0].querySelector('input[name=csrf]').remove()",
                           card.find_element(By.CSS_SELECTOR, "form[action$='/approve']"))
    card.find_element(By.CSS_SELECTOR, "form[action$='/approve'] button").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: "Form refused" in main_text(b))
    screenshots.save(browser, "csrf-refused")
    assert status_of(browser, f"/approvals/{pid}/approve", "POST", {"key": "web-abcdefgh"}) == 403
    browser.get(stack.url + "/approvals")
    card = browser.find_element(By.ID, f"approval-{pid}")

    before = len(stack.api.calls)
    card.find_element(By.CSS_SELECTOR, "form[action$='/approve'] button").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: not b.find_elements(By.ID, f"approval-{pid}"))
    assert pid in main_text(browser)  # the engine's answer, shown as the page's notice
    told = stack.run(stack.api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id
                                        and pid in plain(c.text) and "approved by" in plain(c.text),
                                        timeout=WAIT_S, after=before))
    assert f"telegram:{APPROVER.id}" in plain(told.text) and "paid" in plain(told.text)
    history = stack.say(OPERATOR, "/history 50")
    assert pid in plain(history.text)


def test_a_running_batch_reaches_100_percent_without_a_reload(stack, browser, screenshots):
    rows = "recipient,amount\n" + "".join(f"0x{0x5000 + i:040x},0.01\n" for i in range(ROWS))
    preview = stack.run(stack.api.reply_to(stack.run(stack.api.upload(OPERATOR, OPERATOR.dm, "payroll.csv",
                                                                      rows.encode()))))
    batch_id = re.search(r"Bulk payout (\S+)", plain(preview.text)).group(1)
    sign_in(stack, browser, OPERATOR)
    browser.get(f"{stack.url}/batches/{batch_id}")
    assert browser.find_element(By.ID, "progress-percent").text == "0%"
    assert "preview" in report_text(browser)
    assert set(row_statuses(browser)) == {"pending"}
    WebDriverWait(browser, WAIT_S).until(
        lambda b: b.find_element(By.ID, "progress").get_attribute("data-listening") == "1")
    browser.execute_script("window.stillTheSamePage = true")  # a reload or a navigation would drop it
    # Every percentage the page shows, recorded by the page itself: Selenium's polling (and its screenshots) can
    # miss a step that the page did show.
    browser.execute_script("""window.percentsShown = []; const shown = document.getElementById("progress-percent");
        new MutationObserver(() => window.percentsShown.push(shown.textContent))
          .observe(shown, {childList: true, characterData: true, subtree: true});""")

    stack.run(stack.api.press(OPERATOR, preview, "Execute"))
    seen: set[str] = set()

    def finished(b) -> bool:  # noqa: ANN001
        percent = b.find_element(By.ID, "progress-percent").text
        if percent not in seen and percent not in ("0%", "100%"):  # each step the page showed on its way
            screenshots.save(b, f"batch-running-{percent.rstrip('%')}", full=False)
        seen.add(percent)
        return b.find_element(By.ID, "progress").get_attribute("data-finished") == "1"

    WebDriverWait(browser, 120, poll_frequency=0.05).until(finished)
    assert browser.find_element(By.ID, "progress-percent").text == "100%"
    assert browser.find_element(By.ID, "progress-settled").text == str(ROWS)
    # The report and the rows follow the bar (the `live` event comes before `finished`), still on the same page.
    WebDriverWait(browser, WAIT_S).until(lambda b: "done" in report_text(b))
    assert "preview" not in report_text(browser)
    shown = row_statuses(browser)
    assert len(shown) == min(ROWS, ROWS_SHOWN) and set(shown) == {"paid"}, sorted(set(shown))
    assert browser.execute_script("return window.stillTheSamePage") is True
    # Steps between 0% and 100% are shown when a read of the batch falls between two chunks; on a loaded machine
    # every chunk may land between two reads, so they are not required here (the SSE stream's intermediate events
    # are checked at the HTTP level: tests/adapters/web/test_dashboard_stack.py). What must hold: the page opened at
    # 0%, reached 100% with the report and rows, and was never reloaded.
    shown_steps = [int(p.rstrip("%")) for p in browser.execute_script("return window.percentsShown")]
    assert shown_steps and shown_steps == sorted(shown_steps) and shown_steps[-1] == 100, shown_steps  # never back
    screenshots.save(browser, "batch-done", full=False)


def test_the_audit_page_is_for_admins_only(stack, browser, screenshots):
    sign_in(stack, browser, OPERATOR)
    assert status_of(browser, "/audit") == 403
    browser.delete_all_cookies()
    sign_in(stack, browser, ADMIN)
    browser.get(stack.url + "/audit")
    assert "Something went wrong" not in main_text(browser) and f"telegram:{ADMIN.id}" in main_text(browser)
    screenshots.save(browser, "audit")


def test_reading_works_with_javascript_off(stack, browser, screenshots, paid):
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(stack.sign_in_link(OPERATOR))
        assert urlsplit(browser.current_url).path == "/login"  # no script pressed Sign in: the person does
        browser.find_element(By.CSS_SELECTOR, "#signin button").click()
        WebDriverWait(browser, WAIT_S).until(lambda b: urlsplit(b.current_url).path == "/treasury")
        assert browser.find_elements(By.CSS_SELECTOR, "#balances tbody tr")
        browser.get(stack.url + "/ledger")
        Select(browser.find_element(By.NAME, "token")).select_by_visible_text("USDC")
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        WebDriverWait(browser, WAIT_S).until(lambda b: "token=USDC" in b.current_url)
        rows = browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")
        assert rows and all("USDC" in r.text for r in rows)
        screenshots.save(browser, "ledger-without-javascript")
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


@pytest.mark.parametrize("page", ["treasury", "ledger", "batches", "approvals", "schedules", "intents",
                                  "notifications"])
def test_every_page_opens_for_the_operator(stack, browser, screenshots, page, paid):
    sign_in(stack, browser, OPERATOR)
    browser.get(f"{stack.url}/{page}")
    assert browser.find_element(By.TAG_NAME, "h1").text
    assert "Something went wrong" not in main_text(browser) and "Please sign in" not in main_text(browser)
    screenshots.save(browser, f"page-{page}")
