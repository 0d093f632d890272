"""What a Selenium Grid 4 hub says about itself (``GET <hub>/status``): nodes, slots, free slots.

Why: a full Grid does not refuse a new session, it queues the request for the hub's
``session-request-timeout`` (docs/DEPLOYMENT.md). A login asked of a full Grid would hang that
long and then fail with an obscure message; the browser factory asks here first and answers
``capacity_exhausted`` at once. ``/health`` shows the same figures (issue 11, visibility).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

#: ``/status`` must answer quickly: it is asked before every new browser and by ``/health``.
STATUS_TIMEOUT = 3.0


@dataclass(frozen=True)
class GridNode:
    uri: str
    availability: str
    slots: int
    busy: int

    @property
    def free(self) -> int:
        return self.slots - self.busy if self.availability == "UP" else 0


@dataclass(frozen=True)
class GridStatus:
    """The hub's view: ``ready`` (at least one node can take a session) and the nodes."""

    ready: bool
    nodes: tuple[GridNode, ...]

    @property
    def slots_total(self) -> int:
        return sum(node.slots for node in self.nodes if node.availability == "UP")

    @property
    def slots_free(self) -> int:
        return sum(node.free for node in self.nodes)

    def describe(self) -> dict[str, Any]:
        """The ``/health`` object (node URIs are the operator's own addresses, not secrets)."""
        return {"ready": self.ready, "nodes_up": sum(n.availability == "UP" for n in self.nodes),
                "slots_total": self.slots_total, "slots_free": self.slots_free,
                "nodes": [{"uri": n.uri, "availability": n.availability, "slots": n.slots, "busy": n.busy}
                          for n in self.nodes]}


def parse_status(body: dict[str, Any]) -> GridStatus:
    """A ``/status`` JSON body as :class:`GridStatus` (a slot with a ``session`` is busy)."""
    value = body.get("value") or {}
    nodes = tuple(GridNode(uri=str(node.get("uri", "")), availability=str(node.get("availability", "")),
                           slots=len(node.get("slots") or ()),
                           busy=sum(1 for slot in node.get("slots") or () if slot.get("session")))
                  for node in value.get("nodes") or ())
    return GridStatus(ready=bool(value.get("ready")), nodes=nodes)


def grid_status(hub_url: str, timeout: float = STATUS_TIMEOUT) -> GridStatus:
    """Ask the hub; raises ``requests.RequestException`` or ``ValueError`` when it does not answer sensibly."""
    response = requests.get(f"{hub_url.rstrip('/')}/status", timeout=timeout)
    response.raise_for_status()
    return parse_status(response.json())
