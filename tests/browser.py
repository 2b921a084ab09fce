"""The browser and live server every page test uses: Debian's chromium driven by Playwright
against the app served on a thread, one browser for the whole session, one context per person."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from engine import Gridflow
from engine.deadlines.clock import ManualClock
from web import create_app

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def live_app(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[tuple[str, Gridflow]]:
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "SECRET_KEY": "pages",
            "INSTANCE_PATH": str(tmp_path / "i"),
            "PHOTO_DIR": str(tmp_path / "photos"),
        }
    )
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", app.extensions["gridflow"]
    http.shutdown()
    app.extensions["gridflow"].close()


@pytest.fixture
def server(live_app: tuple[str, Gridflow]) -> str:
    return live_app[0]


@pytest.fixture
def app_of_server(live_app: tuple[str, Gridflow]) -> Gridflow:
    return live_app[1]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


class Office:
    """Each person in a browser context of their own, logged in through the login page."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.pages: dict[str, Page] = {}

    def person(self, username: str) -> Page:
        if username not in self.pages:
            page = self.browser.new_context(locale="zh-CN").new_page()
            page.goto(f"{self.base}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", "demo")
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("我的待办")
            self.pages[username] = page
        return self.pages[username]

    def open_task(self, username: str, case_id: int, task: str) -> Page:
        page = self.person(username)
        page.goto(f"{self.base}/")
        page.locator(f"tr.task[data-case='{case_id}'][data-task='{task}'] a.open-task").click()
        expect(page.locator("#task-form")).to_be_visible()
        return page

    def report(self, category: str, grid: str, address: str, description: str, photo: Path | None = None) -> int:
        """上报 through the page as collector03; returns the new case's id."""
        page = self.person("collector03")
        page.goto(f"{self.base}/report")
        page.select_option("select[name=category]", category)
        page.select_option("select[name=grid]", grid)
        page.fill("input[name=address]", address)
        page.fill("textarea[name=description]", description)
        if photo is not None:
            page.set_input_files("input[name=photos]", str(photo))
        page.click("form.card button[type=submit]")
        expect(page.locator("#case-status")).to_have_text("待立案")
        return int(re.search(r"/cases/(\d+)", page.url).group(1))  # type: ignore[union-attr]

    def status(self, case_id: int) -> str:
        page = self.person("operator")
        page.goto(f"{self.base}/cases/{case_id}")
        return page.locator("#case-status").get_attribute("data-status") or ""


@pytest.fixture
def office(browser: Browser, server: str) -> Office:
    return Office(browser, server)


def png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG image, made here (no fixture files)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xd0\x30\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
