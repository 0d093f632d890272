"""One exception hierarchy for the whole service (API_SPEC 1.3).

Every error the service can answer with is a subclass of :class:`ApiError` carrying its HTTP
status and ``error_type`` code, so the HTTP layer renders all of them in one error handler and
routes never build error bodies by hand. Callers may catch broadly (``PortalError``) or precisely
(``InvalidCredentials``).
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Base of every error that becomes a JSON error response."""

    status: int = 500
    error_type: str = "internal_error"
    default_message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        /,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        # A few codes have two statuses in API_SPEC 1.3 (session_not_found 400/404,
        # idempotency_conflict 409/422): the raiser picks one, the class keeps the usual one.
        if status is not None:
            self.status = status
        self.message = message or self.default_message
        self.details = details
        self.headers = dict(headers or {})
        # Route-specific keys merged into the error body (e.g. available_options, current_phase,
        # and ``message``: that is why the human text above is a positional-only parameter).
        self.extra: dict[str, Any] = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON error envelope without request-scoped keys (request_id, session_id)."""
        out: dict[str, Any] = {"success": False, "error": self.message, "error_type": self.error_type}
        if self.details is not None:
            out["details"] = self.details
        out.update(self.extra)
        return out


# --- 400 ---------------------------------------------------------------------------------------
class BadRequest(ApiError):
    status, error_type, default_message = 400, "bad_request", "Bad request"


class InvalidJson(ApiError):
    status, error_type, default_message = 400, "invalid_json", "Request must be JSON"


class MissingFields(ApiError):
    status, error_type, default_message = 400, "missing_fields", "Missing required fields"


class InvalidField(ApiError):
    status, error_type, default_message = 400, "invalid_field", "Invalid field"


class InvalidContainerNumber(ApiError):
    status, error_type, default_message = 400, "invalid_container_number", "Invalid container number"


class SessionNotFound(ApiError):
    """Unknown, expired or foreign session: 400 on business routes, 404 on /sessions/<id>."""

    status, error_type, default_message = 400, "session_not_found", "Invalid or expired session_id"


# --- 401 / 403 / 404 / 405 ---------------------------------------------------------------------
class Unauthorized(ApiError):
    status, error_type, default_message = 401, "unauthorized", "Missing or invalid API key"

    def __init__(self, message: str | None = None, /, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(ApiError):
    status, error_type, default_message = 403, "forbidden", "Admin key required"


class NotFound(ApiError):
    status, error_type, default_message = 404, "not_found", "Not found"


class ContainerNotFound(ApiError):
    status, error_type, default_message = 404, "container_not_found", "Container not found"


class AppointmentSessionExpired(ApiError):
    """An ``appointment_session_id`` of a wizard that was open when the service restarted: the
    half-filled wizard lived in a browser tab, which a restart does not bring back (issue 10)."""

    status, error_type = 404, "appointment_session_expired"
    default_message = ("The appointment workflow was lost when the service restarted; "
                       "start again from /check_appointments")


class MethodNotAllowed(ApiError):
    status, error_type, default_message = 405, "method_not_allowed", "Method not allowed"


# --- 409 / 413 ---------------------------------------------------------------------------------
class SessionBusy(ApiError):
    status, error_type, default_message = 409, "session_busy", "Session is busy"

    def __init__(self, message: str | None = None, /, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": "10"})
        super().__init__(message, **kw)


class IdempotencyConflict(ApiError):
    """422 when a key is reused with another payload; 409 (``status=409``) when the outcome is unknown."""

    status, error_type, default_message = 422, "idempotency_conflict", "Idempotency key conflict"


class PayloadTooLarge(ApiError):
    status, error_type, default_message = 413, "payload_too_large", "Request body too large"

    @classmethod
    def over(cls, limit: int) -> "PayloadTooLarge":
        """The error naming the cap in force (``MAX_REQUEST_BYTES``), so a client knows what fits."""
        mib = 1024 * 1024
        size = f"{limit // mib} MiB" if limit % mib == 0 else f"{limit} bytes"
        return cls(f"Request body over {size}", details={"max": limit})


# --- portal-side failures ------------------------------------------------------------------------
class PortalError(ApiError):
    """Anything the portal (or the way to it) caused."""

    status, error_type, default_message = 502, "portal_unavailable", "Portal unavailable"


class InvalidCredentials(PortalError):
    """The portal refused the username or password: a re-login closes the session."""

    status, error_type, default_message = 401, "invalid_credentials", "Authentication failed"


class RecaptchaFailed(PortalError):
    """The portal refused the solved captcha token. Not an ``InvalidCredentials``: the account is fine."""

    status, error_type, default_message = 401, "recaptcha_failed", "Authentication failed"


class PortalUnavailable(PortalError):
    status, error_type, default_message = 502, "portal_unavailable", "Portal unavailable"


class PortalTimeout(PortalError):
    status, error_type, default_message = 504, "portal_timeout", "Portal did not respond in time"


class OutcomeUnknown(PortalTimeout):
    """504 after Submit was clicked with no definite answer read (API_SPEC 4.8 guarantee 3).

    Why one class for every cause (no Confirmation in time, a crashed or killed browser, a lost
    portal login, a failing read or disk write): the portal may have booked in each case, so the
    client must check ``/get_appointments`` instead of retrying, and the idempotency record stays
    ``submitting``. Built only by the operation runner (``emodal.operations.runner``), the one place
    that maps failures after Submit.
    """

    ADVICE = "The appointment may exist. Check /get_appointments before retrying."
    default_message = "Submit was clicked but its outcome could not be read"

    def __init__(self, message: str | None = None, /, *, cause: str = "internal_error", **kw: Any) -> None:
        kw.setdefault("current_phase", 3)
        super().__init__(message, details={"reason": "outcome_unknown", "cause": cause}, submitted=True,
                         appointment_confirmed=False, outcome="unknown", message=self.ADVICE, **kw)


class PortalRejected(PortalError):
    """The portal refused with a dialog; ``portal_message`` carries its own text."""

    status, error_type, default_message = 422, "portal_rejected", "Portal rejected the request"


class OptionNotAvailable(PortalError):
    status, error_type, default_message = 422, "option_not_available", "Requested option not available"


class SlotNotAvailable(PortalError):
    status, error_type, default_message = 422, "slot_not_available", "Requested appointment time not available"


class PortalSessionLost(PortalError):
    """The portal login lapsed mid-operation (login page, 401 text). Internal: triggers re-login + one retry."""

    status, error_type, default_message = 502, "portal_unavailable", "Portal session lost"


# --- captcha service ---------------------------------------------------------------------------
class CaptchaError(ApiError):
    status, error_type, default_message = 502, "captcha_unavailable", "Captcha service unavailable"


class CaptchaKeyInvalid(CaptchaError):
    status, error_type, default_message = 502, "captcha_key_invalid", "Captcha service rejected the API key"


class CaptchaZeroBalance(CaptchaError):
    status, error_type, default_message = 502, "captcha_zero_balance", "Captcha service account has no balance"


class CaptchaUnavailable(CaptchaError):
    status, error_type, default_message = 502, "captcha_unavailable", "Captcha service unavailable"


# --- capacity / lifecycle / bugs -----------------------------------------------------------------
class CapacityExhausted(ApiError):
    status, error_type, default_message = 503, "capacity_exhausted", "Maximum number of sessions reached"


class ShuttingDown(ApiError):
    status, error_type, default_message = 503, "shutting_down", "Server is shutting down"


class LoginPageReturned(PortalUnavailable):
    """LOGIN led back to a login page that names no error (internal to the login flow).

    A bad password shows a message; a message-less login page means the OIDC chain restarted
    (lost cookie, expired code), which one more attempt usually fixes. The flow retries once and
    only then calls it invalid credentials, because that verdict closes a session for good.
    """


class InternalError(ApiError):
    status, error_type, default_message = 500, "internal_error", "Internal server error"


def _error_classes(base: type[ApiError]) -> list[type[ApiError]]:
    """``base`` and its subclasses, depth first in definition order."""
    return [base, *(c for sub in base.__subclasses__() for c in _error_classes(sub))]


#: Every error_type code the service answers with (used by /openapi.json), read from the classes
#: so that a new class can never be missing from the document.
ERROR_TYPES: tuple[str, ...] = tuple(dict.fromkeys(c.error_type for c in _error_classes(ApiError)))


def exception_summary(exc: BaseException) -> str:
    """First line of an exception's message (at most 300 characters) for logs and ``details``.

    WebDriver messages carry a whole stack trace and sometimes the page; only the first line says
    what happened.
    """
    text = (getattr(exc, "msg", None) or str(exc) or type(exc).__name__).strip()
    return text.splitlines()[0][:300]
