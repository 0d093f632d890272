"""Webhook delivery core (emodal/webhooks/) with the real SQLite store and a real local receiver.

The receiver (tests/unit/webhook_receiver.py) listens on 127.0.0.1, so the guard allows private
addresses here unless a test is about refusing them. Time is an injected clock that starts at the
real time (receivers check the signed timestamp against theirs) and is advanced by hand to make
retries due; the worker is stepped with ``tick()``.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook

from emodal.errors import InvalidField, NotFound
from emodal.state import SecretBox, new_key, rotate_key
from emodal.state.sqlite import SQLiteStore
from emodal.webhooks import (CANCELLED, DELIVERED, FAILED, PENDING, AddressGuard, Backoff, DeliveryWorker, Outbox,
                             Sender, Subscriptions)
from emodal.webhooks.guard import BlockedDestination, refusal_reason
from tests.unit.webhook_receiver import Receiver

TENANT = "tenant-a"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Parts:
    store: SQLiteStore
    subscriptions: Subscriptions
    outbox: Outbox
    worker: DeliveryWorker


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def build(tmp_path: Path, clock: Clock, key: str) -> Iterator:
    """``build(guard=..., timeout=..., retry_hours=...)`` opens the store in tmp_path and the webhook
    parts over it; every store opened is closed at the end (a test may close one itself)."""
    stores: list[SQLiteStore] = []

    def make(guard: AddressGuard | None = None, *, timeout: float = 10.0, retry_hours: float = 24,
             random: float = 0.5) -> Parts:
        guard = guard or AddressGuard(allow_private=True)
        store = SQLiteStore(tmp_path / "state" / "state.db")
        stores.append(store)
        subscriptions = Subscriptions(store, SecretBox(key), guard, clock=clock)
        outbox = Outbox(store, subscriptions, retry_hours=retry_hours, clock=clock)
        worker = DeliveryWorker(store, subscriptions, outbox, Sender(guard, timeout=timeout),
                                backoff=Backoff(lambda: random), clock=clock)
        return Parts(store, subscriptions, outbox, worker)

    yield make
    for store in stores:
        store.close()


def subscribe(parts: Parts, url: str, **kw) -> tuple[str, str]:
    subscription, secret = parts.subscriptions.create(TENANT, url, ["container.changed"], **kw)
    return subscription.id, secret


def only_delivery(parts: Parts, subscription_id: str) -> dict:
    [delivery] = parts.outbox.deliveries(TENANT, subscription_id)
    return delivery


def verified(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


# --- delivery --------------------------------------------------------------------------------------
def test_an_event_is_delivered_signed_per_standard_webhooks(build, receiver):
    parts = build()
    sub_id, secret = subscribe(parts, receiver.url + "/hook?token=abc")
    assert secret.startswith("whsec_")
    data = {"container": "MSCU1000017", "changes": {"holds": {"before": "YES", "after": "NO"}}}
    event_id = parts.outbox.emit(TENANT, "container.changed", data)

    assert parts.worker.tick() == 1
    [request] = receiver.received
    assert request.path == "/hook?token=abc"
    assert request.headers["webhook-id"] == event_id
    assert request.headers["Content-Type"] == "application/json"
    payload = verified(secret, request)
    assert payload["type"] == "container.changed" and payload["data"] == data
    assert payload["timestamp"].endswith("Z")
    delivery = only_delivery(parts, sub_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"], delivery["next_retry_at"],
            delivery["last_error"]) == (DELIVERED, 1, 204, None, None)
    assert parts.worker.tick() == 0  # delivered once, never again


def test_only_matching_subscriptions_of_the_tenant_get_the_event(build, receiver):
    parts = build()
    wanted, _ = subscribe(parts, receiver.url)
    other_event, _ = parts.subscriptions.create(TENANT, receiver.url, ["job.failed"])
    other_tenant, _ = parts.subscriptions.create("tenant-b", receiver.url, ["container.changed"])
    event_id = parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.outbox.emit(TENANT, "container.changed", {"n": 1}, event_id=event_id)  # a re-emit adds nothing
    assert parts.worker.tick() == 1
    assert len(only_delivery(parts, wanted)) and parts.outbox.deliveries(TENANT, other_event.id) == []
    assert parts.outbox.deliveries("tenant-b", other_tenant.id) == []
    with pytest.raises(NotFound):
        parts.outbox.deliveries("tenant-b", wanted)


def test_a_receiver_answering_500_gets_the_event_after_it_recovers(build, receiver, clock):
    parts = build()
    sub_id, secret = subscribe(parts, receiver.url)
    receiver.script.extend([500, 500])
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})

    assert parts.worker.tick() == 1
    failed = only_delivery(parts, sub_id)
    assert (failed["status"], failed["last_status_code"], failed["last_error"]) == (PENDING, 500, "HTTP 500")
    assert failed["next_retry_at"] > clock.now
    assert parts.worker.tick() == 0  # not due yet
    for expected_attempts in (2, 3):
        clock.now = only_delivery(parts, sub_id)["next_retry_at"]
        assert parts.worker.tick() == 1
        assert only_delivery(parts, sub_id)["attempts"] == expected_attempts
    delivery = only_delivery(parts, sub_id)
    assert (delivery["status"], delivery["last_status_code"]) == (DELIVERED, 204)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # same id: receivers de-duplicate
    for request in receiver.received:
        verified(secret, request)


def test_a_receiver_that_does_not_answer_in_time_is_retried(build, receiver, clock):
    parts = build(timeout=0.5)
    sub_id, secret = subscribe(parts, receiver.url)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    receiver.hold()
    assert parts.worker.tick() == 1
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == PENDING and delivery["last_error"] == "no answer within 0.5 s"
    assert delivery["last_status_code"] is None
    receiver.release()
    clock.now = delivery["next_retry_at"]
    assert parts.worker.tick() == 1
    assert only_delivery(parts, sub_id)["status"] == DELIVERED
    verified(secret, receiver.received[-1])


def test_a_refused_connection_is_retried(build, clock):
    parts = build()
    receiver = Receiver().start()
    url = receiver.url
    receiver.stop()  # nothing listens there any more
    sub_id, _ = subscribe(parts, url)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    assert parts.worker.tick() == 1
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == PENDING and delivery["last_error"].startswith("connection failed: ")
    assert "refused" in delivery["last_error"].lower()


def test_delivery_gives_up_at_the_end_of_the_retry_window(build, receiver, clock):
    parts = build(retry_hours=1)
    sub_id, _ = subscribe(parts, receiver.url)
    receiver.script.extend([503] * 100)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    give_up_at = only_delivery(parts, sub_id)["give_up_at"]
    assert give_up_at == pytest.approx(clock.now + 3600)
    while parts.worker.tick():
        delivery = only_delivery(parts, sub_id)
        if delivery["status"] != PENDING:
            break
        assert delivery["next_retry_at"] <= give_up_at
        clock.now = delivery["next_retry_at"]
    delivery = only_delivery(parts, sub_id)
    assert (delivery["status"], delivery["next_retry_at"]) == (FAILED, None)
    assert delivery["last_attempt_at"] == give_up_at  # the last attempt is at the window's end
    assert delivery["attempts"] == len(receiver.received) < 20
    clock.now += 86400
    assert parts.worker.tick() == 0


def test_pending_deliveries_survive_a_restart(build, receiver, clock, tmp_path):
    parts = build()
    sub_id, secret = subscribe(parts, receiver.url)
    receiver.script.append(500)
    first = parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.worker.tick()  # first attempt fails: pending with a retry time
    second = parts.outbox.emit(TENANT, "container.changed", {"n": 2})  # never attempted
    retry_at = max(d["next_retry_at"] for d in parts.outbox.deliveries(TENANT, sub_id))
    parts.store.close()

    restarted = build()  # same database file, same key, a new worker
    clock.now = retry_at
    assert restarted.worker.tick() == 2
    by_id = {r.headers["webhook-id"]: verified(secret, r) for r in receiver.received[1:]}
    assert by_id == {first: {"type": "container.changed", "timestamp": by_id[first]["timestamp"], "data": {"n": 1}},
                     second: {"type": "container.changed", "timestamp": by_id[second]["timestamp"], "data": {"n": 2}}}
    assert {d["status"] for d in restarted.outbox.deliveries(TENANT, sub_id)} == {DELIVERED}


def test_a_delivery_leased_by_another_worker_is_not_sent_twice(build, receiver):
    parts = build()
    sub_id, _ = subscribe(parts, receiver.url)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    delivery_id = only_delivery(parts, sub_id)["id"]
    assert parts.store.acquire_lease(f"webhook_delivery:{delivery_id}", "other-instance", 60)
    assert parts.worker.tick() == 0 and receiver.received == []
    parts.store.release_lease(f"webhook_delivery:{delivery_id}", "other-instance")
    assert parts.worker.tick() == 1 and len(receiver.received) == 1


def test_retry_now_gives_a_failed_delivery_one_more_attempt(build, receiver, clock):
    parts = build(retry_hours=1)
    sub_id, _ = subscribe(parts, receiver.url)
    receiver.script.extend([500] * 100)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    clock.now += 7200  # past the window: the first attempt is also the last
    parts.worker.tick()
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == FAILED
    with pytest.raises(NotFound):
        parts.outbox.retry_now("tenant-b", delivery["id"])
    receiver.script.clear()
    view = parts.outbox.retry_now(TENANT, delivery["id"])
    assert (view["status"], view["next_retry_at"]) == (PENDING, clock.now)
    assert parts.worker.tick() == 1
    assert only_delivery(parts, sub_id)["status"] == DELIVERED


def test_deleting_a_webhook_cancels_its_pending_deliveries(build, receiver):
    parts = build()
    sub_id, _ = subscribe(parts, receiver.url)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    delivery_id = only_delivery(parts, sub_id)["id"]
    with pytest.raises(NotFound):
        parts.subscriptions.delete("tenant-b", sub_id)
    parts.subscriptions.delete(TENANT, sub_id)
    assert parts.worker.tick() == 0 and receiver.received == []
    record = parts.outbox.get(delivery_id)
    assert (record.value["status"], record.value["last_error"]) == (CANCELLED, "webhook deleted")
    assert record.expires_at is not None


def test_the_test_event_goes_to_one_subscription(build, receiver):
    parts = build()
    sub_id, secret = subscribe(parts, receiver.url)
    subscribe(parts, receiver.url)
    parts.outbox.send_test(TENANT, sub_id)
    assert parts.worker.tick() == 1
    assert verified(secret, receiver.received[0])["type"] == "webhook.test"


def test_the_worker_thread_delivers_and_stops(build, receiver):
    parts = build()
    subscribe(parts, receiver.url)
    parts.worker.start()
    try:
        parts.outbox.emit(TENANT, "container.changed", {"n": 1})
        parts.worker.wake()
        assert receiver.wait_for(1)
    finally:
        parts.worker.stop(timeout=30)


# --- subscriptions and secrets ---------------------------------------------------------------------
@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "example.com/hook", "http://"])
def test_only_http_and_https_urls_are_accepted(build, url):
    with pytest.raises(InvalidField) as caught:
        build().subscriptions.create(TENANT, url, ["job.failed"])
    assert caught.value.extra["field"] == "url"


@pytest.mark.parametrize("events", [[], ["container.exploded"]])
def test_unknown_or_no_events_are_refused(build, events):
    with pytest.raises(InvalidField) as caught:
        build().subscriptions.create(TENANT, "https://example.com/hook", events)
    assert caught.value.extra["field"] == "events"


def test_the_secret_is_never_in_clear_in_the_database(build, receiver, key, tmp_path):
    parts = build()
    sub_id, secret = subscribe(parts, receiver.url)
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.worker.tick()
    assert "secret" not in json.dumps([s.view() for s in parts.subscriptions.list(TENANT)])
    raw = b"".join(path.read_bytes() for path in (tmp_path / "state").glob("state.db*"))
    assert secret.encode() not in raw and secret.removeprefix("whsec_").encode() not in raw
    fresh = new_key()
    assert rotate_key(parts.store, SecretBox(key), SecretBox(fresh)) == 1  # the webhooks namespace is sealed
    assert Subscriptions(parts.store, SecretBox(fresh), AddressGuard(True)).secret(sub_id) == secret


# --- safety ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "a loopback address"), ("10.1.2.3", "a private address"), ("192.168.0.10", "a private address"),
    ("172.16.5.4", "a private address"), ("169.254.169.254", "a cloud metadata address"),
    ("169.254.10.1", "a link-local address"), ("224.0.0.1", "a multicast address"),
    ("240.0.0.1", "a reserved address"), ("0.0.0.0", "an unspecified address"),
    ("100.64.0.1", "not a public address"), ("::1", "a loopback address"), ("fe80::1", "a link-local address"),
    ("fd00:ec2::254", "a cloud metadata address"), ("fc00::5", "a private address"),
    ("::ffff:127.0.0.1", "a loopback address"), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_refusal_reasons(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_a_private_receiver_is_refused_without_the_flag(build, receiver):
    parts = build(AddressGuard(allow_private=False))
    with pytest.raises(InvalidField, match="127.0.0.1, a loopback address"):
        subscribe(parts, receiver.url)  # a literal address is refused at once
    sub_id, _ = subscribe(parts, receiver.url.replace("127.0.0.1", "localhost"))  # a name: at delivery
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    assert parts.worker.tick() == 1
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == PENDING and receiver.received == []
    assert delivery["last_error"].startswith("refused: localhost resolves to ")
    assert "WEBHOOK_ALLOW_PRIVATE=true" in delivery["last_error"]


def test_the_connection_goes_to_the_checked_address(build, receiver):
    """A name is resolved once, by the guard, and the socket opens to that address: the system
    resolver (which knows nothing of ``receiver.invalid``) is never asked, and the request still
    carries the name in its Host header."""
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    parts = build(AddressGuard(allow_private=False, exempt=LOOPBACK, resolver=resolver))
    port = receiver.url.rsplit(":", 1)[1]
    sub_id, secret = subscribe(parts, f"http://receiver.invalid:{port}/hook")
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    assert parts.worker.tick() == 1
    assert only_delivery(parts, sub_id)["status"] == DELIVERED
    assert asked == ["receiver.invalid"]
    assert receiver.received[0].headers["Host"] == f"receiver.invalid:{port}"
    verified(secret, receiver.received[0])


def test_a_name_with_one_internal_address_is_refused():
    guard = AddressGuard(allow_private=False, resolver=lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(BlockedDestination, match="10.0.0.5, a private address"):
        guard.resolve("mixed.example", 443)


def test_redirects_are_not_followed_by_default(build, receiver):
    parts = build(AddressGuard(allow_private=False, exempt=LOOPBACK))
    sub_id, _ = subscribe(parts, receiver.url)
    receiver.script.append(("redirect", "http://example.com/elsewhere?token=x"))
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.worker.tick()
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == PENDING and delivery["last_status_code"] == 307
    assert delivery["last_error"] == "HTTP 307 redirect to http://example.com not followed"


@pytest.mark.parametrize("target, reason", [
    ("http://127.0.0.2:{port}/inside", "127.0.0.2, a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
    ("http://10.0.0.7/admin", "10.0.0.7, a private address"),
    ("http://inside.invalid/admin", "inside.invalid resolves to 10.0.0.8, a private address"),  # by name
])
def test_a_followed_redirect_to_a_private_address_is_refused(build, receiver, target, reason):
    names = {"inside.invalid": ["10.0.0.8"], "127.0.0.1": ["127.0.0.1"]}
    parts = build(AddressGuard(allow_private=False, exempt=LOOPBACK, resolver=lambda host, port: names[host]))
    sub_id, _ = subscribe(parts, receiver.url, follow_redirects=True)
    port = receiver.url.rsplit(":", 1)[1]
    receiver.script.append(("redirect", target.format(port=port)))
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.worker.tick()
    delivery = only_delivery(parts, sub_id)
    assert delivery["status"] == PENDING and reason in delivery["last_error"]
    assert len(receiver.received) == 1  # only the first hop reached a server


def test_a_followed_redirect_to_an_allowed_address_is_delivered(build, receiver):
    parts = build(AddressGuard(allow_private=False, exempt=LOOPBACK))
    sub_id, secret = subscribe(parts, receiver.url + "/old", follow_redirects=True)
    receiver.script.append(("redirect", "/new"))
    parts.outbox.emit(TENANT, "container.changed", {"n": 1})
    parts.worker.tick()
    assert only_delivery(parts, sub_id)["status"] == DELIVERED
    assert [r.path for r in receiver.received] == ["/old", "/new"]
    verified(secret, receiver.received[1])


# --- back-off (pure) -------------------------------------------------------------------------------
def test_backoff_ceiling_doubles_up_to_the_cap():
    backoff = Backoff(lambda: 0.5)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff.ceiling(11) == backoff.ceiling(500) == 3600


def test_backoff_is_jittered_within_the_ceiling():
    draws = iter([0.0, 0.25, 0.999])
    backoff = Backoff(lambda: next(draws))
    waits = [backoff.next_attempt(4, 1000.0, 10**6) - 1000.0 for _ in range(3)]
    assert waits == [0.0, 10.0, pytest.approx(39.96)]  # uniform in [0, 40): full jitter


def test_backoff_is_cut_at_the_window_and_ends_after_it():
    backoff = Backoff(lambda: 0.999)
    assert backoff.next_attempt(20, 1000.0, 1100.0) == 1100.0
    assert backoff.next_attempt(20, 1100.0, 1100.0) is None


def test_https_keeps_the_name_for_sni_and_the_certificate(tmp_path):
    """Pinning the socket to the checked address must not break TLS: the certificate is verified
    against the URL's host name (a certificate for another name is refused)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.invalid")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.invalid")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        guard = AddressGuard(allow_private=False, exempt=LOOPBACK, resolver=lambda host, p: ["127.0.0.1"])
        sender = Sender(guard)
        sender._session.verify = str(cert_file)  # trust the test certificate (tests only)
        assert sender.send(f"https://receiver.invalid:{port}/hook", "{}", {}).delivered
        wrong = sender.send(f"https://other.invalid:{port}/hook", "{}", {})
        assert not wrong.delivered and "other.invalid" in wrong.error
        sender.close()
    finally:
        server.shutdown()
        server.server_close()
