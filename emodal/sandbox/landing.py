"""Landing pages after login: ecp2 root/login, the account Welcome page (A5), termops home (B13).

`/ecp2/` follows the account's "Default page" preference (A2 step 4 [I], B5.1 step 7):
`User Profile` -> the Welcome page, `Containers` -> `/ecp2/containers`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template

from .auth import current_session, page_login_required, start_chain
from .shell import app_base, origin, render_app
from .state import get_state

bp = Blueprint("sandbox_landing", __name__)


def default_page_label(account: Any) -> str:
    """The Welcome page's `Default page` value for an account."""
    return "Containers" if "container" in str(getattr(account, "default_page", "")).lower() else "User Profile"


def default_page_url(account: Any) -> str:
    if default_page_label(account) == "Containers":
        return f"{origin()}/ecp2/containers"
    return f"{origin()}/account/Home/Welcome"


@bp.route("/")
def index() -> str:
    """Demo index (B3 MAY): links to the flows' entry points. Never linked from portal pages."""
    config = get_state().config
    return render_template("index.html", origin=origin(), profile=config.profile, seed=config.seed)


@bp.route("/ecp2/")
@page_login_required
def ecp2_root() -> Response:
    return redirect(default_page_url(g.account), code=302)


@bp.route("/ecp2/login")
def ecp2_login() -> Response:
    """The flow's start (A1): logged out it enters the chain with `/ecp2/` as the target."""
    if current_session(touch=True) is not None:
        return redirect(f"{origin()}/ecp2/", code=302)
    return start_chain("ecp2", "/ecp2/")


@bp.route("/account/")
@page_login_required
def account_root() -> Response:
    return redirect(f"{origin()}/account/Home/Welcome", code=302)


@bp.route("/account/Home/Welcome")
@page_login_required
def welcome() -> str:
    preferences = [
        ["Preferred Language", "English - United States"],
        ["Date Format", "MM/dd/yyyy"],
        ["Default page", default_page_label(g.account)],
        ["Time Format", "24 Hour"],
    ]
    return render_app("account", "eModal", "portal-pages.js",
                      {"page": "welcome", "preferences": preferences})


@bp.route("/termops/trucker/web/")
@page_login_required
def termops_home() -> str:
    """The keep-alive target (A10): app bar, a welcome line, a link to Add Appointment."""
    return render_app("termops", "eModal Community Portal", "portal-pages.js",
                      {"page": "home", "addvisit": f"{app_base('termops')}/trucker/web/addvisit",
                       "username": g.account.username})
