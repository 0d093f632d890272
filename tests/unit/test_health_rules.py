"""Page classification rules (PORTAL_SPEC A6, A10, B17 rules 1 and 10) on snapshots, no browser."""
from __future__ import annotations

import pytest

from emodal.errors import PortalSessionLost, PortalTimeout, PortalUnavailable
from emodal.portal.health import PageSnapshot, PageState, classify_snapshot, is_served_app_page, raise_for_state
from emodal.portal.urls import PortalUrls, relative_path

REAL = PortalUrls(ecp2="https://ecp2.emodal.com", termops="https://termops.emodal.com",
                  truckerportal="https://truckerportal.emodal.com", account="https://account.emodal.com")
SANDBOX = PortalUrls(ecp2="http://127.0.0.1:8470/ecp2", termops="http://127.0.0.1:8470/termops",
                     truckerportal="http://127.0.0.1:8470/truckerportal", account="http://127.0.0.1:8470/account")

# The identity login URL embeds ecp2, signin-oidc and "login" in its encoded ReturnUrl (A2).
IDENTITY_LOGIN = ("https://identity.emodal.com/Account/Login?ReturnUrl=%2Fconnect%2Fauthorize%2Fcallback%3F"
                  "client_id%3Decp2%26redirect_uri%3Dhttps%253A%252F%252Fecp2.emodal.com%252Fsignin-oidc"
                  "%26code_challenge_method%3DS256")


def snap(url: str, **kw: object) -> PageSnapshot:
    kw.setdefault("toolbar", True)
    kw.setdefault("app_booted", True)
    return PageSnapshot(url=url, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", [
    "https://account.emodal.com/Home/Welcome",
    "https://ecp2.emodal.com/containers",
    "https://termops.emodal.com/trucker/web/",
    "https://truckerportal.emodal.com/MyAppointments",
])
def test_portal_app_pages_are_logged_in(url: str) -> None:
    assert classify_snapshot(snap(url), REAL) is PageState.LOGGED_IN


def test_identity_login_is_login_page_despite_hosts_in_return_url() -> None:
    assert classify_snapshot(snap(IDENTITY_LOGIN, toolbar=False, app_booted=False), REAL) is PageState.LOGIN_PAGE


def test_login_form_on_an_app_host_is_login_page() -> None:
    page = snap("https://ecp2.emodal.com/", login_form=True, toolbar=False)
    assert classify_snapshot(page, REAL) is PageState.LOGIN_PAGE


def test_oidc_hops_are_transient() -> None:
    for url in ("https://ecp2.emodal.com/signin-oidc", "https://identity.emodal.com/connect/authorize/callback?x=1"):
        assert classify_snapshot(snap(url, toolbar=False, app_booted=False), REAL) is PageState.OIDC_HOP
    form_post = snap("https://identity.emodal.com/connect/x", form_post_hop=True, toolbar=False)
    assert classify_snapshot(form_post, REAL) is PageState.OIDC_HOP


def test_termops_expiry_text() -> None:
    page = snap("https://termops.emodal.com/trucker/web/addvisit", toolbar=False, headings=("401",),
                text="401\nYou are either not logged in or your session has expired.\n"
                     "Please use your back button or return to the home page and login.")
    assert classify_snapshot(page, REAL) is PageState.EXPIRED_401


def test_geo_block_403_keeps_login_url() -> None:
    page = snap("https://ecp2.emodal.com/login", title="403 Forbidden", toolbar=False, app_booted=False)
    assert classify_snapshot(page, REAL) is PageState.GEO_BLOCKED


@pytest.mark.parametrize("kw", [
    {"title": "500 - Internal server error.", "headings": ("500 - Internal server error.",)},
    {"title": "404 Not Found"},
    {"headings": ("Server Error",)},
    {"text": "Service Unavailable. An error occurred while processing."},
])
def test_error_pages(kw: dict) -> None:
    assert classify_snapshot(snap("https://ecp2.emodal.com/containers", **kw), REAL) is PageState.ERROR_PAGE


@pytest.mark.parametrize("url", ["https://ecp2.emodal.com/error", "https://ecp2.emodal.com/x?status=503x",
                                 "https://ecp2.emodal.com/x?error=true", "https://ecp2.emodal.com/404"])
def test_error_urls(url: str) -> None:
    expected = PageState.LOGGED_IN if "503x" in url else PageState.ERROR_PAGE
    assert classify_snapshot(snap(url), REAL) is expected


def test_healthy_page_with_one_error_word_in_text_stays_healthy() -> None:
    page = snap("https://ecp2.emodal.com/containers", headings=("Containers",),
                text="Holds info error-free ... access denied for none")
    assert classify_snapshot(page, REAL) is PageState.LOGGED_IN


def test_blank_app_shell_is_loading_not_logged_in() -> None:
    page = snap("https://termops.emodal.com/trucker/web/addvisit", toolbar=False, app_booted=False)
    assert classify_snapshot(page, REAL) is PageState.LOADING
    assert classify_snapshot(snap("https://ecp2.emodal.com/", ready_state="interactive"), REAL) is PageState.LOADING


def test_foreign_host_and_about_blank_are_unknown() -> None:
    assert classify_snapshot(snap("https://ecp2.emodal.com.evil.example/containers"), REAL) is PageState.UNKNOWN
    assert classify_snapshot(snap("about:blank"), REAL) is PageState.UNKNOWN


def test_sandbox_prefixes_are_compared_by_path_component() -> None:
    assert classify_snapshot(snap("http://127.0.0.1:8470/ecp2/containers"), SANDBOX) is PageState.LOGGED_IN
    assert classify_snapshot(snap("http://127.0.0.1:8470/ecp2x/containers"), SANDBOX) is PageState.UNKNOWN
    assert classify_snapshot(snap("http://127.0.0.1:8471/ecp2/containers"), SANDBOX) is PageState.UNKNOWN
    assert relative_path("http://127.0.0.1:8470/termops", "http://127.0.0.1:8470/TERMOPS/trucker/web/") == "/trucker/web/"
    assert relative_path("https://ecp2.emodal.com", "https://ECP2.emodal.com:443/containers?x=1") == "/containers"


def test_raise_for_state_maps_to_errors() -> None:
    raise_for_state(PageState.LOGGED_IN)
    for state in (PageState.LOGIN_PAGE, PageState.EXPIRED_401):
        with pytest.raises(PortalSessionLost):
            raise_for_state(state, "https://termops.emodal.com/trucker/web/?code=SECRET")
    with pytest.raises(PortalUnavailable) as info:
        raise_for_state(PageState.GEO_BLOCKED, "https://ecp2.emodal.com/login")
    assert "BROWSER_PROXY" in str(info.value.details)
    with pytest.raises(PortalUnavailable) as info:
        raise_for_state(PageState.ERROR_PAGE, "https://ecp2.emodal.com/x?token=SECRET")
    assert "SECRET" not in str(info.value.details)
    with pytest.raises(PortalTimeout):
        raise_for_state(PageState.LOADING, "https://ecp2.emodal.com/containers")
    with pytest.raises(PortalUnavailable):
        raise_for_state(PageState.UNKNOWN, "about:blank")


@pytest.mark.parametrize("page, served", [
    (snap("https://termops.emodal.com/trucker/web/", toolbar=False, app_booted=False), True),  # shell booting
    (snap("https://termops.emodal.com/trucker/web/", toolbar=False, app_booted=False, ready_state="interactive"),
     False),  # document still loading
    (snap(IDENTITY_LOGIN, toolbar=False, app_booted=False), False),  # the identity host is no portal app
    (snap("https://elsewhere.example.com/", toolbar=False, app_booted=False), False),
])
def test_a_served_app_shell_proves_the_session_before_its_boot(page: PageSnapshot, served: bool) -> None:
    assert is_served_app_page(page, REAL) is served
