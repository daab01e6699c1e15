"""Debian's chromium driven by Playwright (Playwright's own browser download cannot run here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.backends import in_ci

CHROMIUM = Path("/usr/bin/chromium")
# Quiet and offline: no sandbox (containers), no GPU, no background calls home that could
# slow a test or reach the network.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`"
    if in_ci():
        pytest.fail(f"{message}; under CI=true the browser tests are mandatory")
    pytest.skip(f"{message} to run the browser tests (they are mandatory under CI=true)")


@contextmanager
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
