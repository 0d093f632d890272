"""``/webhooks`` (issue 12 section 4): thin routes over ``emodal.webhooks``.

Parse -> subscriptions / outbox -> render. A webhook is always the caller's own (an admin key
included: a subscription receives that tenant's events, so there is no "all tenants" view); another
tenant's id is 404. The signing secret is in the create answer only.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify
from pydantic import Field

from emodal.api import http
from emodal.api.openapi import register
from emodal.api.schemas import Bool, RequestModel, Str, StrList, parse
from emodal.timefmt import iso_utc
from emodal.webhooks.runtime import Webhooks
from emodal.webhooks.subscriptions import EVENT_TYPES, Subscription

bp = Blueprint("webhooks", __name__)


class WebhookRequest(RequestModel):
    url: Str = Field(description="Receiver URL, http or https; private addresses need WEBHOOK_ALLOW_PRIVATE=true.")
    events: StrList = Field(description="Event types to receive: " + ", ".join(EVENT_TYPES) + ".")
    follow_redirects: Bool = Field(False, description="Follow up to 5 redirects, each target checked like the URL.")


def _webhooks() -> Webhooks:
    return current_app.extensions["emodal_webhooks"]


def webhook_view(subscription: Subscription) -> dict[str, Any]:
    view = subscription.view()
    return {**view, "created_at": iso_utc(view["created_at"])}


def delivery_view(delivery: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO 8601 UTC like every other answer of the API."""
    times = ("created_at", "last_attempt_at", "delivered_at", "next_retry_at", "give_up_at")
    return {**delivery, **{k: iso_utc(delivery[k]) for k in times}}


@bp.post("/webhooks")
def create_webhook() -> Response:
    fields = parse(WebhookRequest, http.json_body(), http.settings())
    subscription, secret = _webhooks().subscriptions.create(g.tenant, fields["url"], fields["events"],
                                                            follow_redirects=fields["follow_redirects"])
    response = jsonify({"success": True, **webhook_view(subscription), "secret": secret})
    response.status_code = 201
    return response


@bp.get("/webhooks")
def list_webhooks() -> Response:
    webhooks = [webhook_view(s) for s in _webhooks().subscriptions.list(g.tenant)]
    return jsonify({"success": True, "count": len(webhooks), "webhooks": webhooks})


@bp.get("/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    return jsonify({"success": True, **webhook_view(_webhooks().subscriptions.get(g.tenant, webhook_id))})


@bp.delete("/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> Response:
    _webhooks().subscriptions.delete(g.tenant, webhook_id)
    return jsonify({"success": True, "message": f"Webhook {webhook_id} deleted; its pending deliveries are cancelled"})


@bp.post("/webhooks/<webhook_id>/test")
def test_webhook(webhook_id: str) -> Response:
    webhooks = _webhooks()
    event_id = webhooks.outbox.send_test(g.tenant, webhook_id)
    webhooks.worker.wake()
    response = jsonify({"success": True, "event_id": event_id, "deliveries_url":
                        f"{http.base_url()}/webhooks/{webhook_id}/deliveries"})
    response.status_code = 202
    return response


@bp.get("/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> Response:
    deliveries = [delivery_view(d) for d in _webhooks().outbox.deliveries(g.tenant, webhook_id)]
    return jsonify({"success": True, "count": len(deliveries), "deliveries": deliveries})


@bp.post("/webhooks/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    webhooks = _webhooks()
    delivery = webhooks.outbox.retry_now(g.tenant, delivery_id)
    webhooks.worker.wake()
    return jsonify({"success": True, **delivery_view(delivery)})


# --- /openapi.json ----------------------------------------------------------------------------------------
_WEBHOOK_EXAMPLE = {"success": True, "id": "wh_Yc2x0b1f8aQ3kT9m", "url": "https://dispatch.example.com/hooks/emodal",
                    "events": ["job.succeeded", "job.failed"], "follow_redirects": False,
                    "created_at": "2025-11-24T19:25:45Z"}
_DELIVERY_EXAMPLE = {"id": "evt_019ab3c4d5e6a1b2c3d4e5f6.wh_Yc2x0b1f8aQ3kT9m", "subscription_id": "wh_Yc2x0b1f8aQ3kT9m",
                     "event_id": "evt_019ab3c4d5e6a1b2c3d4e5f6", "event_type": "job.succeeded", "status": "pending",
                     "attempts": 2, "created_at": "2025-11-24T19:25:45Z", "last_attempt_at": "2025-11-24T19:25:52Z",
                     "last_status_code": 500, "last_error": "HTTP 500", "delivered_at": None,
                     "next_retry_at": "2025-11-24T19:26:04Z", "give_up_at": "2025-11-25T19:25:45Z"}
register("/webhooks", "POST", WebhookRequest, "Subscribe a URL to event types; the signing secret (whsec_...) is "
         "in this answer only.", {**_WEBHOOK_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, status=201)
register("/webhooks", "GET", None, "The caller's webhooks (never their secrets).",
         {"success": True, "count": 1, "webhooks": [{k: v for k, v in _WEBHOOK_EXAMPLE.items() if k != "success"}]})
register("/webhooks/{webhook_id}", "GET", None, "One of the caller's webhooks.", _WEBHOOK_EXAMPLE)
register("/webhooks/{webhook_id}", "DELETE", None, "Delete a webhook; its pending deliveries are cancelled.",
         {"success": True, "message": "Webhook wh_Yc2x0b1f8aQ3kT9m deleted; its pending deliveries are cancelled"})
register("/webhooks/{webhook_id}/test", "POST", None, "Queue a signed webhook.test event to this webhook.",
         {"success": True, "event_id": "msg_019ab3c4d5e6a1b2c3d4e5f6a7",
          "deliveries_url": "http://127.0.0.1:5010/webhooks/wh_Yc2x0b1f8aQ3kT9m/deliveries"}, status=202)
register("/webhooks/{webhook_id}/deliveries", "GET", None, "Deliveries of a webhook, newest first: status, "
         "attempts, last status code and error, next retry.",
         {"success": True, "count": 1, "deliveries": [_DELIVERY_EXAMPLE]})
register("/webhooks/deliveries/{delivery_id}/retry", "POST", None, "Attempt a delivery now (a failed or delivered "
         "one gets one more attempt).", {"success": True, **_DELIVERY_EXAMPLE, "next_retry_at": "2025-11-24T19:25:53Z"})

__all__ = ["WebhookRequest", "bp", "delivery_view", "webhook_view"]
