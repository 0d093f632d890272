"""`GET /_sandbox/requests`: the portal's page and XHR requests in arrival order (admin, tests only),
by which the cluster tests prove that two operations on one browser did not interleave."""
from __future__ import annotations

from typing import Any

import requests


def test_pages_and_xhr_are_logged_in_order_assets_and_admin_calls_are_not(sandbox: Any) -> None:
    since = sandbox.admin.get("requests")["last_seq"]
    base = sandbox.base_url
    for path in ("/ecp2/login", "/ecp2/assets/app.js", "/termops/api/containers", "/truckerportal/myappointments"):
        requests.get(base + path, timeout=10, allow_redirects=False)
    log = sandbox.admin.get(f"requests?since={since}")
    assert [(e["kind"], e["path"]) for e in log["requests"]] == [
        ("page", "/ecp2/login"), ("xhr", "/termops/api/containers"), ("page", "/truckerportal/myappointments")]
    assert [e["seq"] for e in log["requests"]] == list(range(since + 1, since + 4)) and log["last_seq"] == since + 3
