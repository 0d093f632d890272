"""The exception hierarchy: every API_SPEC error_type has a class carrying its status."""
import inspect

from emodal import errors


def _classes():
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.ApiError)]


def test_every_error_type_has_a_class():
    codes = {c.error_type for c in _classes()}
    assert set(errors.ERROR_TYPES) <= codes


def test_body_carries_extra_keys_and_details():
    err = errors.OptionNotAvailable("Terminal not offered", field="terminal", available_options=["A"])
    body = err.body()
    assert body == {"success": False, "error": "Terminal not offered", "error_type": "option_not_available",
                    "field": "terminal", "available_options": ["A"]}
    assert err.status == 422


def test_idempotency_conflict_status_can_be_409():
    assert errors.IdempotencyConflict(status=409).status == 409
    assert errors.IdempotencyConflict().status == 422


def test_message_is_also_a_body_key():
    # Wizard and booking errors carry a `message` key besides the human `error` (API_SPEC 4.7/4.8).
    err = errors.PortalTimeout("No confirmation", message="Check /get_appointments before retrying")
    assert err.body()["error"] == "No confirmation"
    assert err.body()["message"] == "Check /get_appointments before retrying"


def test_error_types_are_exactly_the_codes_of_the_classes():
    assert set(errors.ERROR_TYPES) == {c.error_type for c in _classes()}
    assert len(errors.ERROR_TYPES) == len(set(errors.ERROR_TYPES))


def test_a_refused_captcha_is_not_a_wrong_password():
    """A re-login closes the session on ``InvalidCredentials`` only; a refused token keeps it."""
    assert not issubclass(errors.RecaptchaFailed, errors.InvalidCredentials)
    assert errors.RecaptchaFailed.status == errors.InvalidCredentials.status == 401
    assert not hasattr(errors, "LoginFailed")


def test_exception_summary_is_the_first_line_only():
    assert errors.exception_summary(RuntimeError("chrome not reachable\n  (Session info: ...)")) == \
        "chrome not reachable"
    assert errors.exception_summary(KeyError()) == "KeyError"
