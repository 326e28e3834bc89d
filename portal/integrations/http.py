"""The one HTTP path to external tools: httpx with retries that respect the other side.

Transient failures (timeouts, connection errors, 5xx, 429) are retried here with exponential backoff
and jitter, honouring the server's own wait hints (Retry-After, reset headers) — and nowhere else, so
retries never multiply (RQ retries only infrastructure failures). The total time spent waiting is
bounded; past it the caller gets an ExternalServiceError that says what happened. Other 4xx answers
are not retried: the same request would fail the same way.

A request that creates something (a POST, unless the caller says it only reads) is never re-sent blindly:
the service may have done the work and lost only its answer (a read timeout, a dropped connection, a
gateway's 502/504). It is re-sent only when the failure proves nothing was done (the connection was never
made, or the service refused with 429/503 or a quota answer); otherwise the caller gets AnswerLost, and
`ApiClient.create_once` looks the record up before creating it again.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import orjson

from portal.errors import ExternalServiceError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# Methods whose repetition does no more than the first request (RFC 9110; PATCH bodies here set values).
IDEMPOTENT_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}
# Failures that prove the request was never carried out: safe to send again whatever it does.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
CREATE_ATTEMPTS = 3
T = TypeVar("T")


class RateLimited(ExternalServiceError):
    """The tool refuses more requests until `resets_at`; a sync can pause and resume then."""

    def __init__(self, message: str, service: str, resets_at: datetime, status_code: int | None = None):
        super().__init__(message, service=service, status_code=status_code)
        self.resets_at = resets_at


class AuthenticationFailed(ExternalServiceError):
    pass


class ExternalNotFound(ExternalServiceError):
    pass


class AnswerLost(ExternalServiceError):
    """A request that is not safe to repeat reached the service, but its answer did not reach us: the
    service may or may not have done the work. Look before sending it again (ApiClient.create_once)."""


class SharedPause:
    """A service's "wait until T", kept in Redis under one key per connection, so every worker's client for
    that connection waits until T instead of asking again (and drawing another 429) in the meantime."""

    def __init__(self, redis: Any, key: str):
        self.redis = redis
        self.key = key

    def until(self) -> datetime | None:
        raw = self.redis.get(self.key)
        if raw is None:
            return None
        moment = datetime.fromtimestamp(float(raw), UTC)
        return moment if moment > datetime.now(UTC) else None

    def hold(self, until: datetime) -> None:
        """Keep `until` unless a later pause is already kept; the key expires with the pause."""
        held = self.until()
        if held is not None and held >= until:
            return
        seconds = (until - datetime.now(UTC)).total_seconds()
        if seconds > 0:
            self.redis.set(self.key, f"{until.timestamp():.3f}", px=max(1, int(seconds * 1000)))


@functools.cache
def tls() -> ssl.SSLContext:
    """The verifying TLS context every client shares (thread-safe): building one reads the CA bundle, 28 ms that
    each new client paid (two a sync run, one or two a page that asks a tool something)."""
    return httpx.create_ssl_context()


class ApiClient:
    """Subclasses name the service and read its error bodies and wait hints."""

    service = "external service"

    def __init__(self, base_url: str, *, auth: httpx.Auth | tuple[str, str] | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 20.0, max_wait: float = 120.0,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 pause: SharedPause | None = None):
        self.pause = pause
        self._honoured: datetime | None = None  # the latest pause this client has already waited out
        self.client = httpx.Client(base_url=base_url.rstrip("/") + "/", auth=auth, headers=headers or {},
                                   timeout=timeout, transport=transport, follow_redirects=False, verify=tls())
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.requests = 0  # requests sent, retries included: what quotas count

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # Hooks -----------------------------------------------------------------------------------
    def retryable(self, response: httpx.Response) -> bool:
        """Whether waiting and sending the same request again can succeed (e.g. Toggl's quota 402)."""
        return response.status_code in RETRYABLE_STATUS

    def wait_hint(self, response: httpx.Response) -> float | None:
        """Seconds the server asks us to wait before retrying, if it says."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return None

    def error_message(self, response: httpx.Response) -> str:
        """The server's own words about a failed request."""
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:300] or response.reason_phrase
        if isinstance(body, str):
            return body
        if isinstance(body, dict):
            for key in ("message", "error_description", "error", "errors"):
                if body.get(key):
                    value = body[key]
                    return value if isinstance(value, str) else str(value)
        return str(body)[:300]

    def raise_for(self, response: httpx.Response, method: str, path: str) -> None:
        """Turn a non-retryable failure into the error a user reads."""
        message = self.error_message(response)
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationFailed(f"{self.service} refused the credentials ({status}): {message}",
                                       service=self.service, status_code=status)
        if status == 404:
            raise ExternalNotFound(f"{self.service} has no such record ({method} {path}): {message}",
                                   service=self.service, status_code=status)
        raise ExternalServiceError(f"{self.service} refused {method} {path} ({status}): {message}",
                                   service=self.service, status_code=status)

    def retry_exhausted(self, response: httpx.Response | None, waited: float, reason: str) -> ExternalServiceError:
        if response is not None and response.status_code == 429:
            hint = self.wait_hint(response) or 60
            return RateLimited(f"{self.service} is rate limiting us; waited {waited:.0f} s. {reason}",
                               service=self.service, resets_at=datetime.now(UTC) + timedelta(seconds=hint),
                               status_code=429)
        return ExternalServiceError(f"{self.service} did not answer successfully after waiting {waited:.0f} s: "
                                    f"{reason}", service=self.service,
                                    status_code=response.status_code if response is not None else None)

    def observe(self, response: httpx.Response) -> None:
        """Read what every answer says about the account's limits (e.g. a quota's remaining requests)."""

    def carried_out(self, response: httpx.Response) -> bool | None:
        """Whether a failed answer proves the request was (True) or was not (False) carried out; None when
        it may have been. A 4xx the caller may retry (429, a quota answer) and a 503 are refusals made before
        any work; any other 5xx may come after the work was done (a gateway losing the service's answer)."""
        status = response.status_code
        return False if status < 500 or status == 503 else None

    # The request loop ---------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(method, path, False, **kwargs)[0]

    def create_once(self, send: Callable[[], T], find: Callable[[], T | None]) -> T:
        """Create a record exactly once: `send` creates it; when its answer is lost, `find` looks for what an
        earlier attempt made (by the origin or name the request carried) before sending again."""
        attempt = 1
        while True:
            try:
                return send()
            except AnswerLost as lost:
                found = find()
                if found is not None:
                    log.info("%s: %s; the record was made after all", self.service, lost.message)
                    return found
                if attempt >= CREATE_ATTEMPTS:
                    raise
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
                log.info("%s: %s; nothing was made, sending again in %.1f s", self.service, lost.message, delay)
                self.sleep(delay)
                attempt += 1

    def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Response]:
        """The parsed JSON body and the response. A 2xx whose body is not JSON (a truncated answer, a proxy's
        page) is retried like a 5xx: the same request usually succeeds (a create's answer counts as lost)."""
        response, body = self._send(method, path, True, **kwargs)
        return body, response

    def _send(self, method: str, path: str, parse: bool, *, params: Any = None, json: Any = None, data: Any = None,
              headers: dict[str, str] | None = None, idempotent: bool | None = None) -> tuple[httpx.Response, Any]:
        """`idempotent`: sending the request twice does no more than once (default: every method but POST)."""
        repeatable = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            unsent = False
            waited += self._wait_for_pause(waited, method, path)
            try:
                self.requests += 1
                response = self.client.request(method, path.lstrip("/"), params=params, json=json, data=data,
                                               headers=headers)
            except UNSENT_ERRORS as exc:
                reason, unsent = f"it could not be reached ({type(exc).__name__})", True
            except httpx.TimeoutException:
                reason = "the request timed out"
            except httpx.TransportError as exc:
                reason = f"the connection failed ({type(exc).__name__})"
            else:
                self.observe(response)
                if response.status_code < 400:
                    if not parse:
                        return response, None
                    try:  # orjson: a report page of 50 rows parses in a third of the standard library's time
                        return response, orjson.loads(response.content)
                    except ValueError:
                        reason = f"it answered {response.status_code} with a body that is not JSON"
                else:
                    if not self.retryable(response):
                        self.raise_for(response, method, path)
                    reason = f"it answered {response.status_code}: {self.error_message(response)}"
                    unsent = self.carried_out(response) is False
            if not repeatable and not unsent:
                raise AnswerLost(f"{self.service} may have carried out {method} {path}, but its answer was lost "
                                 f"({reason}).", service=self.service,
                                 status_code=response.status_code if response is not None else None)
            failed = response if response is not None and response.status_code >= 400 else None
            hint = self.wait_hint(failed) if failed is not None else None
            if hint is not None and self.pause is not None:
                self._honoured = datetime.now(UTC) + timedelta(seconds=hint)
                self.pause.hold(self._honoured)
            delay = hint if hint is not None else min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay += random.uniform(0, self.backoff_base / 2)
            if waited + delay > self.max_wait:
                raise self.retry_exhausted(failed, waited, reason)
            log.info("%s %s %s: %s; retrying in %.1f s", self.service, method, path, reason, delay)
            self.sleep(delay)
            waited += delay

    def _wait_for_pause(self, waited: float, method: str, path: str) -> float:
        """Wait out a pause another worker was told to keep; past the bound, fail without asking."""
        until = self.pause.until() if self.pause is not None else None
        if until is None or (self._honoured is not None and until <= self._honoured + timedelta(milliseconds=1)):
            return 0.0
        seconds = (until - datetime.now(UTC)).total_seconds()
        if waited + seconds > self.max_wait:
            raise RateLimited(f"{self.service} asked us to wait until {until:%H:%M} UTC; {method} {path} is not "
                              "sent before then.", service=self.service, resets_at=until, status_code=429)
        log.info("%s %s %s: waiting %.1f s, as %s asked", self.service, method, path, seconds, self.service)
        self.sleep(seconds)
        self._honoured = until
        return seconds

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)
