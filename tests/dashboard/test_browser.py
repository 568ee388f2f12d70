"""The dashboard in a real browser: Debian's headless Chromium, driven through its matching
chromedriver, against the API served by uvicorn on a seeded SQLite database.

Never skipped: without chromium and chromedriver the test fails and says how to install them.
It takes a screenshot; with PREPAID_GATEWAY_UPDATE_SCREENSHOT=1 it also refreshes
docs/images/dashboard.png (the one the docs show), so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from api.auth import Role
from api.main import create_app
from tests.dashboard.conftest import make_keys
from tests.dashboard.seed import seed
from tests.dbs import engine_for, fresh_database
from tests.ledger.world import Clock, World

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 1440
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=en-GB", f"--window-size={WIDTH},900",
)  # fmt: skip
WAIT_S = 20


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[Role, str]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The API with the dashboard on 127.0.0.1, on a port the kernel chose."""
    with fresh_database("sqlite", tmp_path) as url:
        engine = engine_for(url)
        world = World(engine, Clock())
        seed(world)
        keys = make_keys(engine, world)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # connections queue from now on: the browser never races the start
        config = uvicorn.Config(create_app(engine, clock=world.clock), log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", keys)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            engine.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail(
            "chromium and chromedriver are needed: run `bash scripts/install-test-tools.sh`"
        )
    options = Options()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, env={"TZ": "UTC"})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def texts(driver: WebDriver, css: str) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]


def console(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser console's messages since the last call."""
    messages: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return messages


def sign_in(driver: WebDriver, key: str) -> None:
    wait_for(driver, "#api-key")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "sign-in").click()


def open_ledger(driver: WebDriver, account_id: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#accounts tr[data-account="{account_id}"] td').click()
    WebDriverWait(driver, WAIT_S).until(
        ec.text_to_be_present_in_element((By.ID, "ledger-title"), account_id)
    )
    wait_for(driver, "#ledger tr.detail .priced")
    wait_for(driver, "#chart-svg path.balance")


def test_dashboard_signs_in_shows_the_network_and_an_accounts_ledger(
    served: Served, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{served.url}/dashboard")
    sign_in(browser, "pgw_nothing.wrong")
    WebDriverWait(browser, WAIT_S).until(
        ec.text_to_be_present_in_element((By.ID, "login-error"), "refused")
    )
    console(browser)  # drop the console's note of that 401
    sign_in(browser, served.keys[Role.OPERATOR])
    wait_for(browser, '#meters tr[data-meter="M-1004"]')
    wait_for(browser, '#accounts tr[data-account="ACC-1004"]')

    meters = {row.get_attribute("data-meter"): row.text.lower()
              for row in browser.find_elements(By.CSS_SELECTOR, "#meters tbody tr")}  # fmt: skip
    assert list(meters) == ["M-1001", "M-1002", "M-1003", "M-1004"]
    assert "online" in meters["M-1001"]
    assert "1558.45" in meters["M-1001"]
    assert "offline" in meters["M-1003"]
    assert "open" in meters["M-1003"]
    assert "never" in meters["M-1004"]
    assert "not commissioned" in meters["M-1004"]
    accounts = texts(browser, "#accounts tbody tr")
    assert "39.56 EUR" in accounts[0]
    assert "7.6" in accounts[0]
    assert "5 EUR" in accounts[1]  # ACC-1002's emergency credit
    alerts = texts(browser, "#alerts li.alert-item")
    assert len(alerts) == 3
    assert "meter offline" in alerts[0].lower()
    assert "ops-alice" in alerts[2]  # acknowledged, listed last

    open_ledger(browser, "ACC-1002")  # time-of-use: tiers and bands on each line
    lines = " ".join(texts(browser, "#ledger .priced"))
    assert "tier 1" in lines
    assert "peak" in lines
    assert "valley" in lines

    open_ledger(browser, "ACC-1001")
    entries = texts(browser, "#ledger tr.entry")
    assert len(entries) == 49
    top_up = next(row for row in entries if "top up" in row.lower())
    assert "20.00" in top_up
    first = browser.find_element(By.CSS_SELECTOR, '#ledger tr.entry[data-sequence="1"]')
    assert "1520.25 → 1520.55" in first.text
    details = texts(browser, "#ledger tr.detail")
    assert any("× 0.2734" in d and "rounding" in d for d in details)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-svg rect.bar")) == 48
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-svg circle.point")) == 49
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-svg circle.top_up")) == 1

    # the whole page in one picture
    height = browser.execute_script(
        "window.scrollTo(0, 0); return document.documentElement.scrollHeight"
        " + window.outerHeight - window.innerHeight"
    )
    browser.set_window_size(WIDTH, int(height))
    wait_for(browser, "#chart-svg")
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    png = shot.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 20_000
    if os.environ.get("PREPAID_GATEWAY_UPDATE_SCREENSHOT"):  # refresh the one the docs show
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(png)

    # an operator acknowledges the ACC-1002 low-balance alert: it drops below the open ones
    item = browser.find_element(By.CSS_SELECTOR, "#alerts li.alert-item.open:nth-child(2)")
    item.find_element(By.CSS_SELECTOR, "button.acknowledge").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#alerts li.alert-item.open")) == 1
    )
    assert "operator-key" in texts(browser, "#alerts li.alert-item.done")[0]

    severe = [e for e in console(browser) if e["level"] == "SEVERE"]
    assert not severe, severe  # no script errors, no blocked loads


def test_a_read_only_key_sees_no_acknowledge_button(served: Served, browser: WebDriver) -> None:
    browser.get(f"{served.url}/dashboard")
    sign_in(browser, served.keys[Role.READ_ONLY])
    wait_for(browser, "#alerts li.alert-item.open")
    assert not browser.find_elements(By.CSS_SELECTOR, "#alerts button.acknowledge")
    assert "operators acknowledge" in texts(browser, "#alerts li.alert-item.open")[0]
    browser.find_element(By.ID, "sign-out").click()  # forgets the key: back to the form
    wait_for(browser, "#api-key")
    assert browser.execute_script("return sessionStorage.length") == 0
