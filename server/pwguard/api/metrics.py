"""Prometheus text metrics, counted by a plain ASGI middleware (cheap on the hot path).

Counters are per process: with several workers, scrape each or run one worker per
container. They count requests by route template (not raw path, so ids never
explode the label set), method and status.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Any other method is counted as OTHER: a client inventing methods must not grow the label set.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """Request counters and the active version gauge of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()

    def count(self, route: str, method: str, status: int) -> None:
        method = method if method in METHODS else "OTHER"
        with self._lock:
            self.requests[(route, method, status)] += 1

    def render(self, active_version: str | None, versions_total: int | None) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            snapshot = sorted(self.requests.items())
        lines = [
            "# HELP pwguard_http_requests_total HTTP requests by route template, method, status.",
            "# TYPE pwguard_http_requests_total counter",
        ]
        for (route, method, status), n in snapshot:
            lines.append(
                f'pwguard_http_requests_total{{route="{_esc(route)}",method="{method}",'
                f'status="{status}"}} {n}'
            )
        rules = [(s, n) for (r, m, s), n in snapshot if r == "/v1/rules" and m in ("GET", "HEAD")]
        total = sum(n for _, n in rules)
        not_modified = sum(n for s, n in rules if s == 304)
        lines += [
            "# HELP pwguard_rules_requests_total GET /v1/rules requests.",
            "# TYPE pwguard_rules_requests_total counter",
            f"pwguard_rules_requests_total {total}",
            "# HELP pwguard_rules_not_modified_total GET /v1/rules answered 304 Not Modified.",
            "# TYPE pwguard_rules_not_modified_total counter",
            f"pwguard_rules_not_modified_total {not_modified}",
            "# HELP pwguard_rules_not_modified_ratio Share of GET /v1/rules answered 304.",
            "# TYPE pwguard_rules_not_modified_ratio gauge",
            f"pwguard_rules_not_modified_ratio {not_modified / total if total else 0:.6f}",
            "# HELP pwguard_active_version_info The version GET /v1/rules serves (value 1).",
            "# TYPE pwguard_active_version_info gauge",
        ]
        if active_version is not None:
            lines.append(f'pwguard_active_version_info{{version="{_esc(active_version)}"}} 1')
        if versions_total is not None:
            lines += [
                "# HELP pwguard_versions Stored ruleset versions.",
                "# TYPE pwguard_versions gauge",
                f"pwguard_versions {versions_total}",
            ]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Count every HTTP response by the route template that served it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.count(_route_of(scope), scope["method"], status)


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path: Callable[[], str] | str | None = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"
