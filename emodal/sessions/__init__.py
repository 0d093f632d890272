"""Persistent, authenticated portal sessions (API_SPEC section 3). No Flask in this package.

``SessionRegistry`` (registry.py) owns every ``BrowserSession`` (session.py): resolution of a call
to a session (3.3, single flight for identical credentials), capacity and eviction (3.8), the
per-session lock (3.7), probes and re-login in place (3.5, 3.6), shutdown (3.10), and restore
after a restart from the ``SessionJournal`` (journal.py: session records in the state store, with
credentials and portal snapshot sealed). Its callers see it through the ``Registry`` protocol (protocol.py). ``LoginFlow`` (login_flow.py) runs one
login (browser + captcha + login page), at most ``MAX_CONCURRENT_LOGINS`` at once; ``Refresher``
(refresher.py) keeps keep-alive sessions logged in and expires idle regular ones. folders.py holds
the per-session download folders and their owner file. Method contracts are in the docstrings of
those modules and in docs/ARCHITECTURE.md.
"""
from emodal.sessions.credentials import Credentials, lookup_key
from emodal.sessions.login_flow import LoginFlow
from emodal.sessions.protocol import Registry
from emodal.sessions.refresher import Refresher
from emodal.sessions.registry import SessionRegistry
from emodal.sessions.session import BrowserSession, SessionState

__all__ = ["BrowserSession", "Credentials", "LoginFlow", "Refresher", "Registry", "SessionRegistry",
           "SessionState", "lookup_key"]
