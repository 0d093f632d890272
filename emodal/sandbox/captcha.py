"""reCAPTCHA-like widget (B6): `api.js` for the page, the anchor and challenge (bframe) frames,
the audio payload, and the endpoints that issue tokens.

The page and the frames talk only through `postMessage`, as across Google's real origins, so an
automation that reaches into the frames (instead of using the page callback) is not rewarded.
Which way a click goes (challenge / trusted / spin) is decided here at click time, so the
`captcha_mode` knob and the `captcha_spin` fault act live.
"""

from __future__ import annotations

import io
import math
import secrets
import struct
import wave
from functools import lru_cache

from flask import Blueprint, Response, jsonify, render_template, request, send_from_directory

from .faults import take_captcha_fault
from .shell import STATIC_DIR, origin
from .state import get_state

bp = Blueprint("sandbox_captcha", __name__)
API2 = "/google/recaptcha/api2"
TRY_AGAIN = "Please try again."


@lru_cache(maxsize=1)
def audio_wav() -> bytes:
    """A short local WAV (three beeps): the challenge's "audio"; its answer is the knob word."""
    rate, samples = 8000, []
    for freq in (660, 880, 550):  # 0.2 s beep + 0.1 s silence each
        samples.extend(int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(1600))
        samples.extend([0] * 800)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def _new_audio_challenge(sitekey: str) -> str:
    state = get_state()
    challenge_id = secrets.token_urlsafe(18)
    with state.lock:
        state.audio_challenges[challenge_id] = sitekey
    return challenge_id


@bp.route("/google/recaptcha/api.js")
def api_js() -> Response:
    return send_from_directory(STATIC_DIR, "recaptcha-api.js", mimetype="text/javascript", max_age=0)


@bp.route(f"{API2}/anchor")
def anchor() -> str:
    return render_template("anchor.html", sitekey=request.args.get("k", ""), origin=origin())


@bp.route(f"{API2}/bframe")
def bframe() -> str:
    sitekey = request.args.get("k", "")
    return render_template("bframe.html", sitekey=sitekey, origin=origin(),
                           challenge_id=_new_audio_challenge(sitekey))


@bp.route(f"{API2}/reload", methods=["POST"])
def reload() -> Response:
    """The anchor's checkbox click: open a challenge, pass a trusted user, or spin forever."""
    state = get_state()
    sitekey = request.args.get("k", "")
    answer = {"delay_ms": state.config.knob("captcha_click_ms"), "ttl_s": state.config.knob("token_ttl_s")}
    if take_captcha_fault("captcha_spin") is not None:
        return jsonify({**answer, "action": "spin"})
    if state.config.knob("captcha_mode") == "trusted":
        return jsonify({**answer, "action": "token", "token": state.issue_token(sitekey)})
    return jsonify({**answer, "action": "challenge"})


@bp.route(f"{API2}/payload")
def payload() -> Response:
    if request.args.get("p", "") not in get_state().audio_challenges:
        return Response(status=404)
    return Response(audio_wav(), mimetype="audio/wav")


@bp.route(f"{API2}/userverify", methods=["POST"])
def userverify() -> Response:
    """Check an audio answer (case-insensitive); a wrong one gets fresh audio and a retry text."""
    state = get_state()
    body = request.get_json(silent=True) or {}
    challenge_id = str(body.get("p", ""))
    with state.lock:
        sitekey = state.audio_challenges.pop(challenge_id, None)
    expected = str(state.config.knob("captcha_audio_answer")).strip().lower()
    if sitekey is not None and str(body.get("response", "")).strip().lower() == expected:
        return jsonify({"ok": True, "token": state.issue_token(sitekey),
                        "ttl_s": state.config.knob("token_ttl_s")})
    retry_key = sitekey if sitekey is not None else request.args.get("k", "")
    return jsonify({"ok": False, "message": TRY_AGAIN, "p": _new_audio_challenge(retry_key)})
