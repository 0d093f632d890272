"""Server-side captcha and form checks of the login POST (Part C item 4), over plain HTTP."""

from __future__ import annotations

import html
import re

import pytest
import requests

from tests.conftest import solve_captcha

CAPTCHA_ERROR = "Please verify that you are not a robot."
SITEKEY = "6LcSBXAAAAAAsandbox-emodal-login-key00AA"


class LoginForm:
    """The identity login page fetched by a cookie-keeping HTTP client."""

    def __init__(self, base_url: str) -> None:
        self.http = requests.Session()
        page = self.http.get(f"{base_url}/ecp2/login", timeout=10)
        assert page.status_code == 200
        self.url = page.url
        self.fields = {name: html.unescape(value) for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
        self.base_url = base_url

    def post(self, token: str, hdn: str | None = None, password: str = "sandbox-pass",
             **overrides: str) -> requests.Response:
        data = {**self.fields, "Username": "jdoe", "Password": password,
                "g-recaptcha-response": token, "hdnToken": token if hdn is None else hdn, **overrides}
        return self.http.post(self.url, data=data, allow_redirects=False, timeout=10)


@pytest.fixture
def form(sandbox):
    return LoginForm(sandbox.base_url)


@pytest.fixture
def clock_restored(sandbox):
    """For tests that move the sandbox clock: a reset afterwards puts it back."""
    yield
    sandbox.admin.reset()


def jdoe_sessions(sandbox) -> int:
    return sum(s["username"] == "jdoe" for s in sandbox.admin.get("sessions")["sessions"])


def token_for(sandbox) -> str:
    return solve_captcha(sandbox.base_url, SITEKEY, f"{sandbox.base_url}/identity/Account/Login")


def refused(response: requests.Response, text: str = CAPTCHA_ERROR) -> bool:
    return response.status_code == 200 and f"<li>{text}</li>" in response.text


def test_valid_token_passes_and_redirects_to_callback(form, sandbox):
    answer = form.post(token_for(sandbox))
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{sandbox.base_url}/identity/connect/authorize/callback?")
    assert "AuthCookie" in answer.cookies and "idsrv.session" in answer.cookies


def test_forged_token_is_refused(form):
    assert refused(form.post("03A" + "x" * 420))


def test_reused_token_is_refused(form, sandbox):
    token = token_for(sandbox)
    assert form.post(token).status_code == 302
    assert refused(LoginForm(sandbox.base_url).post(token))


def test_expired_token_is_refused(form, sandbox, clock_restored):
    token = token_for(sandbox)
    sandbox.admin.advance_clock(121)
    assert refused(form.post(token))


def test_empty_hdn_token_is_refused(form, sandbox):
    assert refused(form.post(token_for(sandbox), hdn=""))


def test_wrong_sitekey_token_is_refused(form, sandbox):
    token = solve_captcha(sandbox.base_url, "6LcYbVYUAAAAAOTBbXHZFvXBLYugYI5-sqQKlqsA", form.url)
    assert refused(form.post(token))


def test_wrong_password_consumes_token(form, sandbox):
    token = token_for(sandbox)
    assert refused(form.post(token, password="wrong"), "Invalid username or password")
    assert refused(form.post(token))


def test_bad_antiforgery_is_http_400(form, sandbox):
    answer = form.post(token_for(sandbox), __RequestVerificationToken="forged")
    assert answer.status_code == 400


def test_single_session_per_account_kills_older_sessions(form, sandbox):
    before = jdoe_sessions(sandbox)
    assert form.post(token_for(sandbox)).status_code == 302
    assert form.post(token_for(sandbox)).status_code == 302
    assert jdoe_sessions(sandbox) == before + 2
    sandbox.admin.set_config(single_session_per_account=True)
    try:
        assert form.post(token_for(sandbox)).status_code == 302
        assert jdoe_sessions(sandbox) == 1
    finally:
        sandbox.admin.set_config(single_session_per_account=False)


def test_demo_index_links_entry_points(sandbox):
    page = requests.get(f"{sandbox.base_url}/", timeout=10)
    assert page.status_code == 200
    assert f'href="{sandbox.base_url}/ecp2/login"' in page.text


def test_absolute_lifetime_ends_even_an_active_session(form, sandbox, clock_restored):
    sandbox.admin.set_config(absolute_lifetime_s=100)
    try:
        assert form.post(token_for(sandbox)).status_code == 302
        home = f"{sandbox.base_url}/termops/trucker/web/"
        assert form.http.get(home, timeout=10).status_code == 200
        sandbox.admin.advance_clock(60)
        assert form.http.get(home, timeout=10).status_code == 200   # idle refreshed, lifetime not
        sandbox.admin.advance_clock(60)
        answer = form.http.get(home, timeout=10)
        assert answer.status_code == 401 and "<h1>401</h1>" in answer.text
    finally:
        sandbox.admin.set_config(absolute_lifetime_s=43200)
