"""HTTP plumbing shared by the destination clients: rate limits, retries, call counting.

Retries cover only transport errors, 429 and 5xx (honouring `Retry-After`, exponential backoff with
jitter, bounded attempts). Every other 4xx is returned to the caller, which records the rows as
rejected. Nothing here logs headers or bodies: API keys and personal data never reach the log.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3

log = logging.getLogger(__name__)


class _RedactQuery(logging.Filter):
    """urllib3 logs request lines at DEBUG; their query strings can hold emails (profile look-ups)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Cut the query string off request-line arguments."""
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] + "?…" if isinstance(a, str) and "?" in a else a
                                for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQuery())


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Klaviyo private keys (pk_...), Mailchimp keys (32 hex digits and a data centre), bearer/basic credentials.
_KEYS = re.compile(r"\bpk_[A-Za-z0-9_]{6,}|\b[0-9a-f]{32}-[a-z]+[0-9]+\b|(?i:\b(?:bearer|klaviyo-api-key)\s+)\S+"
                   r"|\bBasic\s+[A-Za-z0-9+/]{8,}={0,2}")


def redact(text: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    """Text from a destination (an error body, a message) without emails, API keys or the given secrets.

    Error bodies echo what was sent (Mailchimp: "x@y.com is already a list member"), so they are
    redacted before they are stored in `activation.*` tables, which the report and serving read.
    """
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<key>")
    text = _KEYS.sub("<key>", text)
    return _EMAIL.sub("<email>", text)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port made explicit for http/https."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class RetryExhausted(Exception):
    """A retryable failure (transport, 429, 5xx) persisted through every allowed attempt."""

    def __init__(self, operation: str, attempts: int, status_code: int | None, detail: str):
        self.operation = operation
        self.attempts = attempts
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"{operation}: gave up after {attempts} attempts ({status_code or 'transport'}: {detail})")


class DestinationFatal(Exception):
    """The destination refuses the whole sync (bad credentials, missing permission, gone list)."""


class ForeignLink(DestinationFatal):
    """A response pointed at another host (a pagination link): the request is not sent, the key stays home."""


class OutcomeUnknown(Exception):
    """A request that is not safe to repeat (a create) timed out or got a 5xx: it may or may not have applied.

    The caller must look the object up before trying again, never resend blind.
    """

    def __init__(self, operation: str, status_code: int | None, detail: str):
        self.operation = operation
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"{operation}: outcome unknown ({status_code or 'transport'}: {detail})")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; time_scale > 1 shrinks every wait (tests, benchmarks)."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    time_scale: float = 1.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # "Equal jitter": at least half the ceiling, so retries spread out but still back off.
        return (ceiling / 2 + random.uniform(0, ceiling / 2)) / self.time_scale


class RateLimiter:
    """Sliding-window limiter: at most `count` calls in any `seconds` window, for every window given.

    Klaviyo states per-endpoint burst (per second) and steady (per minute) limits; a sliding log is
    the strictest reading of both. `time_scale` divides the windows (a scaled test server does too).
    """

    def __init__(self, windows: list[tuple[int, float]], *, time_scale: float = 1.0):
        self.windows = [(count, seconds / time_scale) for count, seconds in windows]
        self._log: deque[float] = deque()
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more call is allowed, then record it."""
        longest = max((s for _, s in self.windows), default=0.0)
        while True:
            with self._lock:
                now = time.monotonic()
                while self._log and self._log[0] <= now - longest:
                    self._log.popleft()
                wait = max(0.0, self._blocked_until - now)
                for count, seconds in self.windows:
                    in_window = [t for t in self._log if t > now - seconds] if seconds < longest else self._log
                    if len(in_window) >= count:
                        wait = max(wait, in_window[len(in_window) - count] + seconds - now)
                if wait <= 0:
                    self._log.append(now)
                    return
            self.waited += wait
            time.sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Hold every caller back (a 429 said so), measured from now."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)


class CallStats:
    """Thread-safe counts of API calls (per operation) and retries."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self.throttled = 0

    def add_call(self, operation: str) -> None:
        """Count one HTTP request."""
        with self._lock:
            self.calls[operation] += 1

    def add_retry(self, throttled: bool) -> None:
        """Count one retry (and whether it followed a 429)."""
        with self._lock:
            self.retries += 1
            self.throttled += int(throttled)

    @property
    def total(self) -> int:
        """All HTTP requests made."""
        return sum(self.calls.values())


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; obsolete formats may parse naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a connection error happened before the request reached the server (connect phase)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class HttpClient:
    """One destination's HTTP access: base URL, auth, per-operation limits, retries, concurrency cap."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        limits: Mapping[str, RateLimiter] | None = None,
        default_limit: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        max_connections: int = 10,
        stats: CallStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.origin = origin(self.base_url)
        self._headers = dict(headers or {})
        self._auth = auth
        self.limits = dict(limits or {})
        self.default_limit = default_limit
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.stats = stats or CallStats()
        self.sleep = sleep
        self._connections = threading.BoundedSemaphore(max_connections)
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the key
        return f"HttpClient({self.base_url!r})"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            if self._auth:
                session.auth = self._auth
            self._local.session = session
        return session

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, object] | None = None,
        data: bytes | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send a request with rate limiting and retries; return the first non-retryable response.

        Raises RetryExhausted when transport errors, 429 or 5xx persist, and DestinationFatal on 401/403.
        An absolute URL (a pagination link) is followed only on the configured scheme, host and port:
        any other raises ForeignLink before anything is sent, so the key never leaves for another host.
        A request with `idempotent=False` (a create) is retried only after a 429 or a refused
        connection, where the server certainly did nothing; a timeout or 5xx raises OutcomeUnknown.
        """
        if path.startswith(("http://", "https://")):
            if origin(path) != self.origin:
                target = "{}://{}:{}".format(*origin(path))
                raise ForeignLink(f"{operation}: refused to follow a link to {target}: the API key is only sent "
                                  "to the configured {}://{}:{}".format(*self.origin))
            url = path
        else:
            url = f"{self.base_url}{path}"
        limiter = self.limits.get(operation, self.default_limit)
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None:
                limiter.acquire()
            status: int | None = None
            wait: float | None = None
            try:
                with self._connections:
                    self.stats.add_call(operation)
                    response = self._session().request(
                        method, url, json=json, params=params, data=data, timeout=self.timeout
                    )
                status = response.status_code
                if status in (401, 403):
                    raise DestinationFatal(f"{operation}: HTTP {status} (check the API key and its scopes)")
                if status != 429 and status < 500:
                    return response
                detail = redact(response.text[:200])
                if not idempotent and status != 429:
                    raise OutcomeUnknown(operation, status, detail)
                ra = retry_after(response.headers.get("Retry-After"))
                if ra is not None:
                    wait = ra / self.policy.time_scale
                    if status == 429 and limiter is not None:
                        limiter.block_for(wait)
            except (requests.ConnectionError, requests.Timeout) as exc:
                detail = type(exc).__name__
                # A refused connection never reached the server; any other failure may have applied it.
                if not idempotent and not _never_sent(exc):
                    raise OutcomeUnknown(operation, None, detail) from exc
            if attempt >= self.policy.max_attempts:
                raise RetryExhausted(operation, attempt, status, detail)
            if wait is None:
                wait = self.policy.backoff(attempt)
            else:
                wait += random.uniform(0, 0.1) / self.policy.time_scale  # small jitter on top of Retry-After
            self.stats.add_retry(status == 429)
            log.info("%s: attempt %d got %s, retrying in %.3fs", operation, attempt, status or detail, wait)
            self.sleep(wait)


def find_or_create(
    what: str,
    find: Callable[[], str | None],
    create: Callable[[], str],
    http: HttpClient,
) -> tuple[str, bool]:
    """The id of an object found by name, or of the one created now: (id, created).

    A create is not idempotent: after a timeout or 5xx it may have been applied, so the object is
    looked up again before any new attempt, and two are never created.
    """
    policy = http.policy
    for attempt in range(1, policy.max_attempts + 1):
        found = find()
        if found is not None:
            return found, False
        try:
            return create(), True
        except OutcomeUnknown as exc:
            log.info("%s: create got %s; looking it up before trying again", what, exc.status_code or exc.detail)
            if attempt == policy.max_attempts:
                raise RetryExhausted(exc.operation, attempt, exc.status_code, exc.detail) from exc
            http.stats.add_retry(False)
            http.sleep(policy.backoff(attempt))
    raise AssertionError("unreachable")
