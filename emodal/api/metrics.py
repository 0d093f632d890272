"""Prometheus metrics of one app (API_SPEC 4.14), in a per-app ``CollectorRegistry``.

Why per app: tests build many apps in one process; the global prometheus registry would refuse
duplicate metric names. Every series carries an ``instance`` label (``INSTANCE_ID``): in a cluster
each API instance is scraped on its own and its figures stay apart even where a scraper does not
add the target itself (Prometheus keeps ours as ``exported_instance`` unless ``honor_labels``). Labels never carry ids, usernames or keys (unbounded and sensitive): routes
are the URL rule (``/sessions/<session_id>``), not the path.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SLOW_BUCKETS = (0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class _RegistryCollector:
    """Session gauges and the session layer's counters, read from ``registry.stats()`` at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, Any]], instance: str) -> None:
        self._stats = stats
        self._instance = instance

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        i = self._instance
        sessions = GaugeMetricFamily("emodal_sessions", "Sessions by kind and state",
                                     labels=["kind", "state", "instance"])
        for kind, states in (stats.get("by_kind_state") or {}).items():
            for state, count in states.items():
                sessions.add_metric([kind, state, i], count)
        yield sessions
        logins = GaugeMetricFamily("emodal_logins_in_progress", "Logins running now", labels=["instance"])
        logins.add_metric([i], stats.get("logins_in_progress", 0))
        yield logins
        for name, value in sorted((stats.get("counters") or {}).items()):
            if isinstance(value, dict):
                family = CounterMetricFamily(f"emodal_{name}", f"Session layer: {name}", labels=["result", "instance"])
                for result, count in sorted(value.items()):
                    family.add_metric([str(result), i], count)
            else:
                family = CounterMetricFamily(f"emodal_{name}", f"Session layer: {name}", labels=["instance"])
                family.add_metric([i], value)
            yield family


class Metrics:
    """The HTTP layer's own metrics plus a view of the session registry's figures."""

    def __init__(self, stats: Callable[[], dict[str, Any]], *, instance: str = "") -> None:
        self.registry = CollectorRegistry()
        self.instance = instance
        self.requests = Counter("emodal_requests", "HTTP requests", ["route", "status", "error_type", "instance"],
                                registry=self.registry)
        self.duration = Histogram("emodal_request_duration_seconds", "Request duration", ["route", "instance"],
                                  buckets=_SLOW_BUCKETS, registry=self.registry)
        self.lock_wait = Histogram("emodal_lock_wait_seconds", "Wait for a session lock", ["route", "instance"],
                                   buckets=_SLOW_BUCKETS, registry=self.registry)
        self.recoveries = Counter("emodal_operation_recoveries", "Operations retried after a re-login",
                                  ["route", "instance"], registry=self.registry)
        self.appointments = Counter("emodal_appointments", "Appointment submissions by result", ["result", "instance"],
                                    registry=self.registry)
        self.registry.register(_RegistryCollector(stats, instance))

    def observe_request(self, route: str, status: int, error_type: str, seconds: float) -> None:
        self.requests.labels(route, str(status), error_type, self.instance).inc()
        self.duration.labels(route, self.instance).observe(seconds)

    def observe_lock_wait(self, route: str, seconds: float) -> None:
        self.lock_wait.labels(route, self.instance).observe(seconds)

    def count_recovery(self, route: str) -> None:
        self.recoveries.labels(route, self.instance).inc()

    def count_appointment(self, result: str) -> None:
        """For /make_appointment: ``confirmed``, ``rejected``, ``unknown``, ``failed``."""
        self.appointments.labels(result, self.instance).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
