"""Process start, configuration and determinism (PORTAL_SPEC B2, Part C item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from emodal.sandbox.config import SandboxConfig

ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "EMODAL SANDBOX READY http://"


def start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    """Run `python -m emodal.sandbox --port 0 ...` and return it with its READY URL."""
    process = subprocess.Popen([sys.executable, "-m", "emodal.sandbox", "--port", "0", *args],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=20)
    if not lines:
        process.kill()
        raise AssertionError("no READY line")
    return process, lines[0]


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def appointments(base: str, user: str) -> list[dict]:
    rows = fetch_json(f"{base}/_sandbox/accounts/{user}/appointments")["appointments"]
    assert rows
    return rows


@pytest.fixture
def cli_pair():
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        process, line = start_cli(*args)
        processes.append(process)
        return line

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_ready_line_and_same_seed_same_oracle(cli_pair):
    args = ("--seed", "7", "--today", "2025-10-01", "--containers", "60")
    first, second = cli_pair(*args), cli_pair(*args)
    for line in (first, second):
        assert line.startswith(READY_PREFIX) and line.endswith("\n")
        assert urlparse(line.split(" ")[-1].strip()).port not in (None, 0, 8470)
    base1, base2 = first.split(" ")[-1].strip(), second.split(" ")[-1].strip()
    assert fetch_json(f"{base1}/_sandbox/health") == {"ok": True, "profile": "fast", "seed": 7}
    for user in ("jdoe", "asmith"):
        oracle1 = fetch_json(f"{base1}/_sandbox/accounts/{user}/containers")
        assert oracle1 == fetch_json(f"{base2}/_sandbox/accounts/{user}/containers")
        assert appointments(base1, user) == appointments(base2, user)
    assert fetch_json(f"{base1}/_sandbox/accounts/jdoe/containers")["total"] == 60


def test_cli_flags_reach_config(cli_pair):
    line = cli_pair("--profile", "realistic", "--idle-timeout", "300", "--captcha-mode", "trusted",
                    "--set", "page_boot_ms.termops=0", "--set", "require_hdn_token=false")
    config = fetch_json(f"{line.split(' ')[-1].strip()}/_sandbox/config")
    knobs = config["knobs"]
    assert config["profile"] == "realistic"
    assert (knobs["idle_timeout_s"], knobs["captcha_mode"], knobs["require_hdn_token"]) == (300, "trusted", False)
    assert knobs["page_boot_ms"] == {"ecp2": 1500, "account": 1500, "termops": 0, "truckerportal": 4000}


def test_accounts_option_adds_generated_logins(cli_pair):
    base = cli_pair("--accounts", "3", "--containers", "60").split(" ")[-1].strip()
    assert fetch_json(f"{base}/_sandbox/config")["accounts"] == 3
    assert fetch_json(f"{base}/_sandbox/accounts/user003/containers")["total"] > 0
    assert fetch_json(f"{base}/_sandbox/accounts/jdoe/containers")["total"] == 60
    with pytest.raises(ValueError):
        SandboxConfig(accounts=1000)


def test_environment_mirrors_options_and_cli_wins():
    env = {"EMODAL_SANDBOX_SEED": "9", "EMODAL_SANDBOX_PROFILE": "realistic", "EMODAL_SANDBOX_TZ": "UTC"}
    config = SandboxConfig.from_sources({"seed": 3}, ["xhr_latency_ms=5-20"], environ=env)
    assert (config.seed, config.profile, config.tz) == (3, "realistic", "UTC")
    assert config.knob("xhr_latency_ms") == [5, 20]
    assert config.knob("captcha_solve_delay_s") == 20
    with pytest.raises(KeyError):
        config.set_knob("no_such_knob", 1)
    with pytest.raises(ValueError):
        config.set_knob("captcha_mode", "sometimes")


@pytest.mark.browser
def test_browser_makes_only_local_requests(sandbox, chrome_factory, portal_login):
    driver = chrome_factory()
    try:
        portal_login(driver, "jdoe")
        for page in ("/account/Home/Welcome", "/termops/trucker/web/", "/ecp2/login"):
            driver.get(sandbox.base_url + page)
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
            resources = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)")
            assert resources, page
            assert all(url.startswith(sandbox.base_url) or url.startswith("data:") for url in resources)
    finally:
        driver.quit()
