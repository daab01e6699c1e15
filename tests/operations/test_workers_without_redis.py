"""`serve` with several workers on the embedded default (no Redis): the SQLite file store
lets every worker see the sign-ins, codes and rate limits the others made."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.browser import Browser
from tests.support.password_login import PASSWORD, REDIRECT_URI
from tests.support.serve_process import CLIENT_ID, USERNAME, running_serve


def fresh_connection_browser() -> Browser:
    # A new TCP connection per request: the kernel hands each to one worker's listening
    # socket by a hash of its addresses, so one sign-in's steps land on different workers.
    browser = Browser()
    browser.http = httpx.Client(follow_redirects=False, timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
    return browser


def test_sign_ins_and_code_redemptions_succeed_across_two_workers(tmp_path: Path) -> None:
    with running_serve(tmp_path, workers=2) as serve:
        for _ in range(6):
            browser = fresh_connection_browser()
            try:
                login = browser.login(serve.url, CLIENT_ID, REDIRECT_URI, USERNAME, PASSWORD, scope="openid")
                form = {"grant_type": "authorization_code", "code": login.params["code"], "code_verifier": login.verifier,
                        "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID}
                token = httpx.post(f"{serve.url}/token", data=form, timeout=10)
                assert token.status_code == 200, token.text
                replay = httpx.post(f"{serve.url}/token", data=form, timeout=10)
                assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
            finally:
                browser.close()
        output = serve.output()
    assert "2 worker processes" in output
    assert "SQLite file store" in output and "ephemeral.db" in output


def test_password_attempt_limits_hold_across_workers(tmp_path: Path) -> None:
    with running_serve(tmp_path, {"TOKEN_SERVICE_LOGIN_RATE_LIMIT_USERNAME": "3/minute"}, workers=2) as serve:
        refused = []
        for _ in range(5):
            browser = fresh_connection_browser()
            try:
                page = browser.authorize(serve.url, CLIENT_ID, REDIRECT_URI, scope="openid")
                assert isinstance(page, httpx.Response) and page.status_code == 200
                answer = browser.submit_password(page, USERNAME, "wrong password, again", REDIRECT_URI)
                assert isinstance(answer, httpx.Response)
                refused.append("Too many attempts" in answer.text)
            finally:
                browser.close()
    # Per-process windows would allow 3 wrong passwords on each worker.
    assert refused == [False, False, False, True, True]


def requests_counted(metrics_text: str, route: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("token_service_requests_total{") and f'route="{route}"' in line
    )


def test_metrics_count_every_workers_requests_whichever_worker_is_scraped(tmp_path: Path) -> None:
    with running_serve(tmp_path, workers=2) as serve:
        for _ in range(20):
            with httpx.Client(timeout=10) as fresh:
                assert fresh.get(f"{serve.url}/.well-known/openid-configuration").status_code == 200
        scrapes = []
        for _ in range(4):
            with httpx.Client(timeout=10) as fresh:
                scrapes.append(requests_counted(fresh.get(f"{serve.url}/metrics").text, "/.well-known/openid-configuration"))
    assert scrapes == [20.0] * 4
