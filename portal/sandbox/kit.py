"""Pieces every sandbox needs: a clock tests can move, injected faults, and a log of requests.

A sandbox's quotas and rate limits read `Clock.now()`, so a test advances time instead of sleeping.
Faults answer matching requests with a chosen status (or after a delay, to provoke client timeouts)
a number of times, before the sandbox's own logic runs: they stand for an overloaded or broken server.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request


class Clock:
    """Wall time plus an offset that tests advance (POST /_sandbox/clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Fault:
    path: str  # a regular expression that must match the whole request path
    method: str = "*"
    status: int = 503
    body: Any = "Service Unavailable"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (longer than the client's timeout = a timeout)
    times: int = 1  # requests it affects; -1 = every one until cleared

    def matches(self, method: str, path: str) -> bool:
        return self.times != 0 and self.method in ("*", method) and re.fullmatch(self.path, path) is not None


class Faults:
    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = Fault(**spec)
        with self._lock:
            self._items.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault for this request, used up by one."""
        with self._lock:
            for fault in self._items:
                if fault.matches(method, path):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None


class RequestLog:
    """Every API request the sandbox answered: tests count calls and check that nothing was written."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        # Bumped by clear(): a slow request that began before a reset is not logged after it.
        self.generation = 0
        self._lock = threading.Lock()

    def add(self, method: str, path: str, query: str, status: int, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            self.entries.append({"n": len(self.entries) + 1, "method": method, "path": path, "query": query,
                                 "status": status})

    def since(self, n: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.entries if e["n"] > n]

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.generation += 1


def json_answer(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def fault_response(fault: Fault) -> Response:
    if fault.delay:
        time.sleep(fault.delay)
    response = json_answer(fault.body, fault.status)
    response.headers.update(fault.headers)
    return response


def admin_blueprint(clock: Clock, faults: Faults, log: RequestLog) -> Blueprint:
    """The admin routes every sandbox shares, under /_sandbox (loopback only, no auth)."""
    bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")

    @bp.post("/clock")
    def move_clock():
        clock.advance(float((request.get_json(silent=True) or {}).get("advance", 0)))
        return jsonify({"now": clock.now()})

    @bp.post("/faults")
    def add_faults():
        specs = request.get_json(silent=True) or []
        for spec in specs if isinstance(specs, list) else [specs]:
            faults.add(spec)
        return jsonify({"added": len(specs) if isinstance(specs, list) else 1})

    @bp.delete("/faults")
    def clear_faults():
        faults.clear()
        return jsonify({"cleared": True})

    @bp.get("/requests")
    def requests_log():
        return jsonify(log.since(request.args.get("since", 0, type=int)))

    return bp
