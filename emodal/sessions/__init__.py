"""Persistent, authenticated portal sessions (API_SPEC section 3). No Flask in this package.

Public API (what the HTTP layer and the operation runner use)
=============================================================

Construction (in ``create_app`` / the entry point)::

    from emodal.browser.factory import BrowserFactory
    from emodal.browser.ledger import BrowserLedger
    from emodal.sessions import SessionRegistry, Refresher, LoginFlow
    from emodal.sessions.journal import SessionJournal

    store, box = state.store, state.box   # emodal.state.service.open_service_state(settings)

    factory = BrowserFactory(settings, ledger=BrowserLedger(store))
    factory.reap_stale()         # browsers a killed earlier run left behind, before any restore
    registry = SessionRegistry(settings, factory, LoginFlow(settings, factory),
                               journal=SessionJournal(store, box, wizard_ttl=settings.appointment_session_ttl))
    registry.restore_all()       # sessions of the earlier run, under their ids (keep-alive: in the background)
    refresher = Refresher(registry, settings)
    refresher.start()            # at app start;  refresher.stop() at shutdown
    ...
    registry.close_all()         # at shutdown, after refresher.stop(timeout=0): waits up to
                                 # SHUTDOWN_GRACE for running operations, then quits every browser
                                 # (the journal keeps the sessions for the next start)

Without ``journal`` (tests) nothing is stored and ``SESSION_SECRET`` may be unset (a random one).

``Credentials`` (``emodal.sessions.credentials``)
    ``Credentials(username, password, captcha_api_key)``: frozen dataclass whose ``repr`` hides
    the password and the key. ``lookup_key(secret, tenant, username, password) -> str`` is the
    HMAC of API_SPEC 3.2.

``SessionRegistry`` (``emodal.sessions.registry``); every method is thread-safe and never holds
the registry-wide lock while a browser is driven.

``resolve(tenant, session_id, credentials, *, keep_alive, promote) -> (BrowserSession, is_new)``
    API_SPEC 3.3/3.4. ``session_id`` and ``credentials`` may each be ``None``.
    Raises ``SessionNotFound`` (id unusable, no credentials), ``MissingFields`` (neither),
    ``CapacityExhausted`` (``Retry-After`` header set), ``ShuttingDown`` (after ``close_all``), and
    every login error
    (``InvalidCredentials``, ``RecaptchaFailed``, ``CaptchaKeyInvalid``, ``CaptchaZeroBalance``,
    ``CaptchaUnavailable``, ``PortalUnavailable``, ``PortalTimeout``). A new session is logged in
    before ``resolve`` returns (concurrent identical credentials share one login: the waiters get
    ``is_new=False``). ``keep_alive``: kind of a session this call creates. ``promote``: make a
    matched regular session keep-alive (``/get_session`` with keep_alive true, or
    ``keep_browser_alive: true``). Matching credentials replace the stored captcha key (another key
    clears ``needs_attention``). The session comes back *pinned* to the calling thread: not
    evicted or expired until this thread's ``acquire`` holds its lock or ``release`` is called.
    Capacity (3.8 + ``MAX_SESSIONS_PER_TENANT``): a new login runs only if the limits hold or enough
    idle sessions could make room; they are evicted only after the login succeeded.
``release(session=None)``: drop the calling thread's pin (a request that ends before ``acquire``).
``acquire(session, route, request_id, timeout=None, *, touch=True)``: context manager holding the
    session lock (default timeout ``SESSION_LOCK_TIMEOUT``; ``0`` only tries); raises
    ``SessionBusy`` (``Retry-After: 10``) whose ``details`` names the running route, or
    ``SessionNotFound`` if the session was closed meanwhile, ``ShuttingDown`` once ``close_all``
    began (no new operation starts; waiters get it too). Inside, ``state`` is ``busy`` and
    ``current_operation`` is set; on exit ``current_url`` is recorded and, with ``touch``,
    ``last_used`` is updated (the refresher passes ``touch=False``).
``ensure_healthy(session) -> bool``: call while holding the lock, before an operation. Probes the
    current page (no navigation); re-establishes the session in place when the browser crashed
    or the portal login lapsed. Returns True when it had to recover (``session_recovered``).
``refresh(session) -> bool``: call while holding the lock (the refresher does): loads the termops
    keep-alive page, checks the login, re-establishes in place if it lapsed (True); raises
    ``PortalUnavailable``/``PortalTimeout`` when the portal is unusable.
``relogin(session) -> None``: call while holding the lock, after an operation raised
    ``PortalSessionLost``; then retry the operation once. ``InvalidCredentials`` closes the
    session (it is gone from the registry when the error propagates); ``CaptchaKeyInvalid`` /
    ``CaptchaZeroBalance`` leave it ``needs_attention`` (``ensure_healthy``/``refresh`` then raise
    that error at once, and the refresher skips it) until ``resolve`` brings another captcha key.
``get(tenant, session_id) -> BrowserSession | None``: ``None`` for unknown or foreign ids
    (tenant ``None`` = admin: any tenant).
``list(tenant=None) -> list[BrowserSession]``: the tenant's sessions (``None`` = all), oldest first.
``close(tenant, session_id) -> None``: waits for the lock (``SessionBusy`` on timeout), quits the
    browser, reaps its processes, deletes its profile, drops credentials and wizards.
    Raises ``SessionNotFound`` (the HTTP layer answers 404 for ``/sessions/<id>``).
``expire_idle() -> int``: close regular sessions unused for ``SESSION_TIMEOUT`` (refresher tick).
``stats() -> dict``: for ``/health`` and ``/metrics``, registry data only: ``active_sessions``,
    ``max_sessions``, ``persistent_sessions``, ``busy_sessions``, ``logins_in_progress``,
    ``by_kind_state`` (``{"keep_alive"|"regular": {state: n}}``), ``counters`` (logins by result,
    captcha_solves, refreshes by result, evictions, recoveries) and ``portal``
    (``{"status": "ok"|"error"|"unknown", "last_success_at": iso|None, "last_error_type": str|None}``).
``close_all(grace=None) -> int``: shutdown; waits up to ``grace`` (default ``SHUTDOWN_GRACE``) in all
    for running operations (a session whose booking is past Submit: ``CONFIRMATION_TIMEOUT`` after
    the click), writes a last snapshot and quits every session's browser **keeping its record**,
    then ``factory.shutdown()`` kills browsers of logins still running and refuses new ones.
    Returns the number of session browsers closed. ``shutting_down``: True since. Every other way
    a session ends (``close``, eviction, expiry, invalid credentials, emergency) deletes its record.
``restore_all() -> int``: at start-up: registers the journal's sessions under their ids (state
    ``restoring`` for keep-alive ones, restored now in the background by at most
    ``MAX_CONCURRENT_LOGINS`` workers; ``logged_out`` for regular ones, restored by ``ensure_healthy``
    on first use). A restore puts the stored cookies and storage into a new browser and checks the
    login: ``ready`` with no login, else a re-login under the same id. ``stats()`` then also has
    ``state`` (``backend``, ``sessions``, ``restored``, ``restoring``) and ``counters.restores``
    (``cookies``, ``relogin``, ``failed``).
``emergency_close_all() -> int``: closes every session without waiting for locks, clears the login
    queue; returns the number of processes killed.
``reap_orphans() -> int``: kills processes this service started that belong to no session or
    running login; returns how many.

``BrowserSession`` (``emodal.sessions.session``)
    Attributes of ARCHITECTURE.md: ``session_id``, ``tenant``, ``username``, ``keep_alive``, ``state``
    (``SessionState``: logging_in, ready, busy, relogging, logged_out, needs_attention, restoring,
    closing), ``restored_at``, ``take_restored()`` (True once after a restore),
    ``created_at``,
    ``last_used``, ``last_refresh`` (epoch floats), ``login_count``, ``last_error``
    (``{"error_type", "at"}`` or None), ``current_url``, ``current_operation``
    (``{"route", "request_id", "started_at"}`` or None), ``lock``, ``driver``, ``handle``
    (``BrowserHandle``), ``wizards`` (dict of open appointment workflows, each with ``last_used``),
    ``busy`` (property), ``session_dir(downloads_dir)``, ``expires_at(session_timeout)``,
    ``describe(session_timeout, *, owner=False) -> dict`` (the ``/sessions`` object of API_SPEC 4.10,
    ISO-8601 UTC timestamps), ``record_url()`` (stores the current URL without query/fragment),
    ``submitting`` (set by ``make_appointment`` at the Submit click; shutdown waits longer for it).

``Refresher(registry, settings)`` (``emodal.sessions.refresher``): ``start()``, ``stop(timeout=None)``
    (waits at most ``SHUTDOWN_GRACE`` by default),
    ``last_tick`` (epoch float or None), ``running``; ``tick()`` runs one pass synchronously (tests).

``LoginFlow(settings, factory)`` (``emodal.sessions.login_flow``): ``login(credentials, *,
    handle=None) -> BrowserHandle``; leaves no browser or profile behind when it fails.
"""
from emodal.sessions.credentials import Credentials, lookup_key
from emodal.sessions.login_flow import LoginFlow
from emodal.sessions.refresher import Refresher
from emodal.sessions.registry import SessionRegistry
from emodal.sessions.session import BrowserSession, SessionState

__all__ = ["BrowserSession", "Credentials", "LoginFlow", "Refresher", "SessionRegistry", "SessionState",
           "lookup_key"]
