"""File retention (API_SPEC 5 "Retention"): removing a session folder never leaves files without
their owner file (issue 15 item 12), and open sessions keep their folders."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from emodal.api import storage
from emodal.api.files import resolve_served_file
from emodal.config import Settings
from emodal.sessions.folders import ensure_session_folder, folder_owner

SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"
TENANT = "tenant-x"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(downloads_dir=tmp_path / "downloads")


def old_empty_folder(settings: Settings) -> Path:
    folder = ensure_session_folder(settings, SID, TENANT)
    long_ago = time.time() - 48 * 3600
    os.utime(folder, (long_ago, long_ago))
    return folder


def test_a_write_during_folder_removal_keeps_the_owner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = old_empty_folder(settings)
    original = Path.stat
    fired: list[bool] = []

    def stat_then_write(self: Path, *args, **kwargs):
        result = original(self, *args, **kwargs)
        # The removal has just judged the folder old and empty; the session's operation writes now.
        if self == folder and sys._getframe(1).f_code.co_name == "_remove_empty" and not fired:
            fired.append(True)
            (folder / "late_failure.png").write_bytes(b"\x89PNG")
        return result

    monkeypatch.setattr(Path, "stat", stat_then_write)
    storage.cleanup(settings, 24, None)
    monkeypatch.undo()
    assert fired and folder_owner(settings, SID) == TENANT
    assert resolve_served_file(settings, f"{SID}/late_failure.png", TENANT, False).read_bytes() == b"\x89PNG"
    assert [p.name for p in folder.parent.iterdir()] == [SID]  # nothing left half-renamed


def test_open_sessions_keep_their_folders_and_closed_ones_lose_them(settings: Settings) -> None:
    folder = old_empty_folder(settings)
    open_session = SimpleNamespace(session_id=SID, busy=False)
    storage.cleanup(settings, 24, None, [open_session])
    assert folder_owner(settings, SID) == TENANT
    storage.cleanup(settings, 24, None, [])
    assert not folder.exists() and list(folder.parent.iterdir()) == []
