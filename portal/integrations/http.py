"""The one HTTP path to external tools: httpx with retries that respect the other side.

Transient failures (timeouts, connection errors, 5xx, 429) are retried here with exponential backoff
and jitter, honouring the server's own wait hints (Retry-After, reset headers) — and nowhere else, so
retries never multiply (RQ retries only infrastructure failures). The total time spent waiting is
bounded; past it the caller gets an ExternalServiceError that says what happened. Other 4xx answers
are not retried: the same request would fail the same way.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from portal.errors import ExternalServiceError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class RateLimited(ExternalServiceError):
    """The tool refuses more requests until `resets_at`; a sync can pause and resume then."""

    def __init__(self, message: str, service: str, resets_at: datetime, status_code: int | None = None):
        super().__init__(message, service=service, status_code=status_code)
        self.resets_at = resets_at


class AuthenticationFailed(ExternalServiceError):
    pass


class ExternalNotFound(ExternalServiceError):
    pass


class ApiClient:
    """Subclasses name the service and read its error bodies and wait hints."""

    service = "external service"

    def __init__(self, base_url: str, *, auth: httpx.Auth | tuple[str, str] | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 20.0, max_wait: float = 120.0,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        self.client = httpx.Client(base_url=base_url.rstrip("/") + "/", auth=auth, headers=headers or {},
                                   timeout=timeout, transport=transport, follow_redirects=False)
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

    # The request loop ---------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(method, path, False, **kwargs)[0]

    def request_json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Response]:
        """The parsed JSON body and the response. A 2xx whose body is not JSON (a truncated answer, a proxy's
        page) is retried like a 5xx: the same request usually succeeds."""
        response, body = self._send(method, path, True, **kwargs)
        return body, response

    def _send(self, method: str, path: str, parse: bool, *, params: Any = None, json: Any = None, data: Any = None,
              headers: dict[str, str] | None = None) -> tuple[httpx.Response, Any]:
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            try:
                self.requests += 1
                response = self.client.request(method, path.lstrip("/"), params=params, json=json, data=data,
                                               headers=headers)
            except httpx.TimeoutException:
                reason = "the request timed out"
            except httpx.TransportError as exc:
                reason = f"it could not be reached ({type(exc).__name__})"
            else:
                self.observe(response)
                if response.status_code < 400:
                    if not parse:
                        return response, None
                    try:
                        return response, response.json()
                    except ValueError:
                        reason = f"it answered {response.status_code} with a body that is not JSON"
                else:
                    if not self.retryable(response):
                        self.raise_for(response, method, path)
                    reason = f"it answered {response.status_code}: {self.error_message(response)}"
            failed = response if response is not None and response.status_code >= 400 else None
            hint = self.wait_hint(failed) if failed is not None else None
            delay = hint if hint is not None else min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay += random.uniform(0, self.backoff_base / 2)
            if waited + delay > self.max_wait:
                raise self.retry_exhausted(failed, waited, reason)
            log.info("%s %s %s: %s; retrying in %.1f s", self.service, method, path, reason, delay)
            self.sleep(delay)
            waited += delay

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
