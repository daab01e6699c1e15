"""axe-core in the page under test, plus a screenshot of it, for every page the tests visit.

axe.min.js comes from tests/pages/node (pinned in its package-lock.json). It is evaluated
through the DevTools protocol, so the pages' CSP (no script at all) stays as it is served.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support.backends import in_ci

NODE_DIR = Path(__file__).parent / "node"
AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "pages"
BLOCKING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    return AXE.read_text()


def require_axe() -> None:
    if AXE.is_file():
        return
    problem = "axe-core is not installed; run `npm ci --prefix tests/pages/node`"
    if in_ci():
        pytest.fail(f"{problem}; under CI=true the page tests are mandatory (.ci/run installs it)")
    pytest.skip(f"{problem} (mandatory under CI=true)")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at {[node['target'] for node in v['nodes']]}" for v in violations
    )


def audit(page: Page, name: str) -> None:
    """The page a person sees now: one <main>, no serious accessibility problem, and a screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert page.locator("main").count() == 1, f"{name}: expected exactly one <main> landmark"
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}: axe-core found\n{describe(blocking)}"
