"""Pieces every sandbox needs: a clock tests can move, injected faults, and a log of requests.

A sandbox's quotas and rate limits read `Clock.now()`, so a test advances time instead of sleeping.
Faults answer matching requests with a chosen status (or after a delay, to provoke client timeouts)
a number of times, before the sandbox's own logic runs: they stand for an overloaded or broken server.
A fault with `lose_answer` lets the request be carried out and replaces only its answer (`lost_answer`).
Chaos fails a share of all requests at random (seeded, so a test is repeatable) in the ways real servers
do: 5xx, 429, timeouts and malformed JSON.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, jsonify, request


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
    after: int = 0  # matching requests answered normally before it starts (an outage in mid-run)
    raw: str | None = None  # a body sent as is (malformed JSON) instead of `body` as JSON
    # The request is carried out, and then its answer is lost: the client gets `status` (a gateway's 504)
    # although the work was done, as when a proxy times out waiting for the service's answer.
    lose_answer: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.times != 0 and self.method in ("*", method) and re.fullmatch(self.path, path) is not None


CHAOS_KINDS = ("5xx", "429", "timeout", "malformed")


@dataclass
class Chaos:
    rate: float  # share of matching requests that fail, 0..1
    kinds: tuple[str, ...] = CHAOS_KINDS
    path: str = ".*"
    seed: int = 0
    timeout_delay: float = 1.0  # longer than the client's timeout
    rng: random.Random = field(init=False, repr=False)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(CHAOS_KINDS)
        if unknown:
            raise ValueError(f"unknown chaos kinds: {sorted(unknown)}")
        self.rng = random.Random(self.seed)

    def roll(self, path: str) -> Fault | None:
        if re.fullmatch(self.path, path) is None or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.injected[kind] = self.injected.get(kind, 0) + 1
        if kind == "5xx":
            return Fault(path=path, status=self.rng.choice((500, 502, 503, 504)))
        if kind == "429":
            return Fault(path=path, status=429, body="Too Many Requests", headers={"Retry-After": "0"})
        if kind == "timeout":
            return Fault(path=path, status=504, body="Gateway Timeout", delay=self.timeout_delay)
        return Fault(path=path, status=200, raw='[{"user_id": 1, "time_entries": [{"id": ')


class Faults:
    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()
        self.chaos: Chaos | None = None

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = Fault(**spec)
        with self._lock:
            self._items.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.chaos = None

    def set_chaos(self, chaos: Chaos | None) -> None:
        with self._lock:
            self.chaos = chaos

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault for this request, used up by one; else maybe one from chaos."""
        with self._lock:
            for fault in self._items:
                if fault.matches(method, path):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
            return self.chaos.roll(path) if self.chaos else None


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


# Types orjson writes its own way go to Flask's serializer instead (dates as Flask writes them, Decimals).
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_answer(body: Any, status: int = 200) -> Response:
    """A JSON answer, written as jsonify would (compact, in the records' order) by orjson: a report page of
    50 rows is written in a tenth of the time, which matters when thousands are paged (bench/sync.py)."""
    return Response(orjson.dumps(body, default=current_app.json.default, option=_ORJSON), status,
                    content_type="application/json; charset=utf-8")


def fault_response(fault: Fault) -> Response:
    if fault.delay:
        time.sleep(fault.delay)
    if fault.raw is not None:
        return Response(fault.raw, fault.status, content_type="application/json; charset=utf-8")
    response = json_answer(fault.body, fault.status)
    response.headers.update(fault.headers)
    return response


def lost_answer(fault: Fault, response: Response) -> Response:
    """The answer a client gets when a fault with `lose_answer` met a request that succeeded."""
    if response.status_code >= 400:
        return response
    return json_answer(fault.body if fault.body != "Service Unavailable" else "Gateway Timeout",
                       fault.status if fault.status != 503 else 504)


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

    @bp.post("/chaos")
    def start_chaos():
        """Fail `rate` of the API requests matching `path` with one of `kinds`, from a seeded generator."""
        spec = request.get_json(silent=True) or {}
        try:
            chaos = Chaos(rate=float(spec.get("rate", 0.2)), kinds=tuple(spec.get("kinds") or CHAOS_KINDS),
                          path=spec.get("path", ".*"), seed=int(spec.get("seed", 0)),
                          timeout_delay=float(spec.get("timeout_delay", 1.0)))
        except ValueError as error:
            return jsonify({"error": str(error)}), 400
        faults.set_chaos(chaos)
        return jsonify({"rate": chaos.rate, "kinds": list(chaos.kinds)})

    @bp.get("/chaos")
    def chaos_report():
        chaos = faults.chaos
        return jsonify({"injected": dict(chaos.injected) if chaos else {}})

    @bp.delete("/chaos")
    def stop_chaos():
        faults.set_chaos(None)
        return jsonify({"stopped": True})

    @bp.get("/requests")
    def requests_log():
        return jsonify(log.since(request.args.get("since", 0, type=int)))

    return bp


def _tagged(value: Any) -> dict[str, Any]:
    """JSON for the Python values sandbox records hold, tagged so they come back as the same types."""
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, set | frozenset):
        return {"__set__": sorted(value)}
    raise TypeError(f"a sandbox record holds a {type(value).__name__}, which cannot be kept")


def _untagged(obj: dict[str, Any]) -> Any:
    for tag, load in (("__decimal__", Decimal), ("__datetime__", datetime.fromisoformat),
                      ("__date__", date.fromisoformat), ("__set__", set)):
        if tag in obj:
            return load(obj[tag])
    return obj


def keep_state(app: Flask, state: Any, path: str | None) -> bool:
    """Make `state` (with `lock`, `snapshot()` and `restore(data)`) survive restarts in the file `path`.

    Loads the file when it exists (returns True: the caller skips its seed), then writes the records back
    after every change. The demo's `make run` uses this, so the portal's links never point at records a
    restarted sandbox forgot; tests leave `path` unset and start from a clean state.
    """
    if not path:
        return False
    restored = os.path.exists(path)
    if restored:
        with open(path) as handle:
            state.restore(json.load(handle, object_hook=_untagged))

    def save() -> None:
        with state.lock:
            data = json.dumps(state.snapshot(), default=_tagged)
        partial = f"{path}.partial"
        with open(partial, "w") as handle:
            handle.write(data)
        os.replace(partial, path)  # never a half-written file, even when stopped mid-write

    @app.after_request
    def save_changes(response: Response) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 500:
            save()
        return response

    return restored
