"""Klaviyo (API revision 2026-07-15): profiles by bulk import jobs, the segment as a list.

Consent is never touched: no subscribe, unsubscribe or suppress endpoint is called by a segment sync
(Klaviyo's bulk-subscribe even clears UNSUBSCRIBE and SPAM_REPORT suppressions). Leaving a segment
only removes the list relationship; deletion happens only through `data-privacy-deletion-jobs`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence

from ..http import CallStats, HttpClient, RateLimiter, RetryPolicy, find_or_create
from .base import BatchRejected, Destination, OnSubmitted, Outcomes, Row, RowOutcome, payload_fields

log = logging.getLogger(__name__)

REVISION = "2026-07-15"
DEFAULT_BASE_URL = "https://a.klaviyo.com"
MAX_PROFILES_PER_JOB = 10_000
MAX_JOB_BYTES = 5 * 1024 * 1024
MAX_IDS_PER_LIST_CALL = 1_000
MAX_PAGE = 100
# Per-endpoint limits (burst per second, steady per minute) from `x-klaviyo-ratelimit` in the
# revision's OpenAPI files (../shared/specs/klaviyo/); a test checks these against the specs.
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "bulk_import_profiles": (10, 150),
    "get_bulk_import_profiles_job": (10, 150),
    "get_errors_for_bulk_import_profiles_job": (10, 150),
    "add_profiles_to_list": (10, 150),
    "remove_profiles_from_list": (10, 150),
    "create_list": (10, 150),
    "get_lists": (75, 750),
    "get_profiles": (75, 750),
    "get_profile_ids_for_list": (75, 750),
    "request_profile_deletion": (3, 60),
}
# Profile attributes Klaviyo knows; any other mapped property goes to `properties`.
STANDARD_ATTRIBUTES = frozenset(
    {"first_name", "last_name", "phone_number", "organization", "locale", "title", "image"}
)
SUPPRESSION_REASONS = {
    "UNSUBSCRIBE": "unsubscribed",
    "SPAM_COMPLAINT": "spam_complaint",
    "HARD_BOUNCE": "bounced",
    "INVALID_EMAIL": "bounced",
    "USER_SUPPRESSED": "suppressed",
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_error(response) -> tuple[str | None, str]:
    try:
        err = response.json()["errors"][0]
        return err.get("code"), f"{err.get('title', '')}: {err.get('detail', '')}"
    except (ValueError, KeyError, IndexError, TypeError):
        return None, response.text[:300]


class KlaviyoDestination(Destination):
    """Klaviyo client used by the sync engine."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        list_name: str,
        overwrite_nulls: frozenset[str],
        get_ref: Callable[[str], str | None],
        set_ref: Callable[[str, str], None],
        stats: CallStats,
        policy: RetryPolicy,
        time_scale: float = 1.0,
        timeout: tuple[float, float] = (10.0, 120.0),
        upsert_batch_size: int = MAX_PROFILES_PER_JOB,
        list_batch_size: int = MAX_IDS_PER_LIST_CALL,
        poll_interval: float = 1.0,
        job_timeout: float = 3600.0,
    ):
        super().__init__(
            name="klaviyo",
            upsert_batch_size=min(upsert_batch_size, MAX_PROFILES_PER_JOB),
            list_batch_size=min(list_batch_size, MAX_IDS_PER_LIST_CALL),
            upsert_adds_to_list=True,
        )
        limits = {
            op: RateLimiter([(burst, 1.0), (steady, 60.0)], time_scale=time_scale)
            for op, (burst, steady) in RATE_LIMITS.items()
        }
        self.http = HttpClient(
            base_url,
            headers={
                "Authorization": f"Klaviyo-API-Key {api_key}",
                "revision": REVISION,
                "Accept": "application/vnd.api+json",
                "Content-Type": "application/vnd.api+json",
            },
            limits=limits,
            policy=policy,
            timeout=timeout,
            stats=stats,
        )
        self.list_name = list_name
        self.overwrite_nulls = overwrite_nulls
        self._get_ref = get_ref
        self._set_ref = set_ref
        self.time_scale = time_scale
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.list_id: str | None = None
        self.list_created = False  # created by this run: nobody can be on it yet

    # -- list --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Find the list by name or create it; the id is cached in the warehouse."""
        if self.list_id:
            return
        cached = self._get_ref("list_id")
        if cached:
            self.list_id = cached
            return
        self.list_id, self.list_created = find_or_create(
            f"klaviyo list {self.list_name!r}", self._find_list, self._create_list, self.http)
        if self.list_created:
            log.info("klaviyo: created list %r", self.list_name)
        self._set_ref("list_id", self.list_id)

    def _find_list(self) -> str | None:
        r = self.http.request(
            "get_lists", "GET", "/api/lists", params={"filter": f"equals(name,{_quote(self.list_name)})"}
        )
        if r.status_code != 200:
            raise BatchRejected(r.status_code, *_first_error(r))
        found = [d for d in r.json()["data"] if d["attributes"].get("name") == self.list_name]
        return found[0]["id"] if found else None

    def _create_list(self) -> str:
        body = {"data": {"type": "list", "attributes": {"name": self.list_name}}}
        r = self.http.request("create_list", "POST", "/api/lists", json=body, idempotent=False)
        if r.status_code != 201:
            raise BatchRejected(r.status_code, *_first_error(r))
        return r.json()["data"]["id"]

    # -- profiles ----------------------------------------------------------------------------
    def profile(self, row: Row) -> dict:
        """The bulk-import resource of one row (null guard applied)."""
        attributes: dict = {"email": row.email}
        if row.customer_key is not None:
            attributes["external_id"] = row.customer_key
        properties = {}
        for prop, value in payload_fields(row.fields, self.overwrite_nulls).items():
            if prop in STANDARD_ATTRIBUTES:
                attributes[prop] = value
            else:
                properties[prop] = value
        if properties:
            attributes["properties"] = properties
        return {"type": "profile", "attributes": attributes}

    def chunks(self, rows: Sequence[Row], size: int) -> Iterator[list[Row]]:
        """Batches within the job limits: at most `size` profiles and under 5 MB of JSON."""
        batch: list[Row] = []
        nbytes = 0
        budget = int(MAX_JOB_BYTES * 0.9)  # room for the envelope
        for row in rows:
            cost = len(json.dumps(self.profile(row))) + 1
            if batch and (len(batch) >= size or nbytes + cost > budget):
                yield batch
                batch, nbytes = [], 0
            batch.append(row)
            nbytes += cost
        if batch:
            yield batch

    def upsert(self, rows: list[Row], *, add_to_list: bool, on_submitted: OnSubmitted) -> Outcomes:
        """Submit one bulk import job (optionally adding the profiles to the list) and read it back."""
        data: dict = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [self.profile(row) for row in rows]}},
        }
        if add_to_list:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": self.list_id}]}}
        r = self.http.request("bulk_import_profiles", "POST", "/api/profile-bulk-import-jobs", json={"data": data})
        if r.status_code != 202:
            raise BatchRejected(r.status_code, *_first_error(r))
        job_id = r.json()["data"]["id"]
        on_submitted(job_id)
        return self.resume(job_id, rows)

    def resume(self, job_id: str, rows: list[Row]) -> Outcomes:
        """Poll a bulk import job until it finishes; rows in its import errors are rejected."""
        deadline = time.monotonic() + self.job_timeout / self.time_scale
        interval = self.poll_interval
        while True:
            r = self.http.request(
                "get_bulk_import_profiles_job", "GET", f"/api/profile-bulk-import-jobs/{job_id}"
            )
            if r.status_code == 404:  # expired or unknown: send again next run
                return {row.member_key: RowOutcome(ok=False, retryable=True, status_code=404,
                                                   error_code="job_not_found", detail=job_id) for row in rows}
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_first_error(r))
            attrs = r.json()["data"]["attributes"]
            if attrs["status"] in ("complete", "cancelled"):
                break
            if time.monotonic() > deadline:
                return {row.member_key: RowOutcome(ok=False, retryable=True, error_code="job_timeout",
                                                   detail=f"job {job_id} still {attrs['status']}") for row in rows}
            time.sleep(interval / self.time_scale)
            interval = min(interval * 1.5, 10.0)
        if attrs["status"] == "cancelled":
            return {row.member_key: RowOutcome(ok=False, retryable=True, error_code="job_cancelled", detail=job_id)
                    for row in rows}
        outcomes = {row.member_key: RowOutcome(ok=True) for row in rows}
        if attrs.get("failed_count"):
            by_email = {row.email: row for row in rows}
            for err in self._import_errors(job_id):
                a = err["attributes"]
                row = None
                email = (a.get("original_payload") or {}).get("email")
                if email is None:
                    email = ((a.get("original_payload") or {}).get("attributes") or {}).get("email")
                row = by_email.get(email)
                if row is None:
                    pointer = (a.get("source") or {}).get("pointer") or ""
                    parts = pointer.split("/")
                    if len(parts) > 5 and parts[5].isdigit() and int(parts[5]) < len(rows):
                        row = rows[int(parts[5])]
                if row is not None:
                    outcomes[row.member_key] = RowOutcome.rejected(422, a.get("code"), f"{a['title']}: {a['detail']}")
        return outcomes

    def _import_errors(self, job_id: str) -> list[dict]:
        errors: list[dict] = []
        url = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        params: dict | None = {"page[size]": MAX_PAGE}
        while url:
            r = self.http.request("get_errors_for_bulk_import_profiles_job", "GET", url, params=params)
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_first_error(r))
            body = r.json()
            errors.extend(body["data"])
            url = (body.get("links") or {}).get("next")
            params = None  # the next link carries its own query
        return errors

    # -- list membership ---------------------------------------------------------------------
    def _ids(self, rows: list[Row]) -> dict[str, str]:
        """member_key -> profile id, looked up by email (100 a page) when not known yet."""
        ids = {row.member_key: row.dest_id for row in rows if row.dest_id}
        missing = [row for row in rows if not row.dest_id and row.email]
        for start in range(0, len(missing), MAX_PAGE):
            part = missing[start : start + MAX_PAGE]
            emails = ",".join(_quote(row.email) for row in part)
            r = self.http.request(
                "get_profiles",
                "GET",
                "/api/profiles",
                params={"filter": f"any(email,[{emails}])", "page[size]": MAX_PAGE},
            )
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_first_error(r))
            found = {p["attributes"].get("email"): p["id"] for p in r.json()["data"]}
            for row in part:
                if row.email in found:
                    ids[row.member_key] = found[row.email]
        return ids

    def _relationships(self, operation: str, method: str, rows: list[Row], missing_ok: bool) -> Outcomes:
        ids = self._ids(rows)
        outcomes: Outcomes = {}
        for row in rows:
            if row.member_key not in ids:
                outcomes[row.member_key] = (
                    RowOutcome(ok=True) if missing_ok else RowOutcome.rejected(404, "profile_not_found", "no profile")
                )
        todo = [row for row in rows if row.member_key in ids]
        if todo:
            body = {"data": [{"type": "profile", "id": ids[row.member_key]} for row in todo]}
            r = self.http.request(operation, method, f"/api/lists/{self.list_id}/relationships/profiles", json=body)
            if r.status_code != 204:
                raise BatchRejected(r.status_code, *_first_error(r))
            for row in todo:
                outcomes[row.member_key] = RowOutcome(ok=True, dest_id=ids[row.member_key])
        return outcomes

    def list_is_new(self) -> bool:
        """Whether this run created the list."""
        return self.list_created

    def already_on_list(self, rows: list[Row]) -> dict[str, str | None]:
        """Rows whose profile is on the list already: list membership filtered by email, 100 a request.

        The membership endpoint answers with profile ids; the few found are mapped back to emails.
        """
        on_list: set[str] = set()
        with_email = [row for row in rows if row.email]
        for start in range(0, len(with_email), MAX_PAGE):
            emails = ",".join(_quote(row.email) for row in with_email[start : start + MAX_PAGE])
            url = f"/api/lists/{self.list_id}/relationships/profiles"
            params: dict | None = {"filter": f"any(email,[{emails}])", "page[size]": MAX_PAGE}
            while url:
                r = self.http.request("get_profile_ids_for_list", "GET", url, params=params)
                if r.status_code != 200:
                    raise BatchRejected(r.status_code, *_first_error(r))
                body = r.json()
                on_list.update(d["id"] for d in body["data"])
                url = (body.get("links") or {}).get("next")
                params = None
        found: dict[str, str] = {}  # email -> profile id
        ids = sorted(on_list)
        for start in range(0, len(ids), MAX_PAGE):
            part = ",".join(_quote(i) for i in ids[start : start + MAX_PAGE])
            r = self.http.request("get_profiles", "GET", "/api/profiles",
                                  params={"filter": f"any(id,[{part}])", "page[size]": MAX_PAGE})
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_first_error(r))
            found.update({(p["attributes"].get("email") or "").lower(): p["id"] for p in r.json()["data"]})
        return {row.member_key: found[row.email.lower()] for row in with_email if row.email.lower() in found}

    def list_add(self, rows: list[Row]) -> Outcomes:
        """Add profiles to the list (profile ids looked up by email when unknown)."""
        return self._relationships("add_profiles_to_list", "POST", rows, missing_ok=False)

    def list_remove(self, rows: list[Row]) -> Outcomes:
        """Remove profiles from the list; a profile that no longer exists is already off the list."""
        return self._relationships("remove_profiles_from_list", "DELETE", rows, missing_ok=True)

    # -- erasure and suppressions ------------------------------------------------------------
    def delete_profile(self, email: str, dest_id: str | None) -> RowOutcome:
        """Request a data-privacy deletion of every profile with this email."""
        body = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {"profile": {"data": {"type": "profile", "attributes": {"email": email}}}},
            }
        }
        r = self.http.request("request_profile_deletion", "POST", "/api/data-privacy-deletion-jobs", json=body)
        if r.status_code == 202:
            return RowOutcome(ok=True)
        return RowOutcome.rejected(r.status_code, *_first_error(r))

    def fetch_suppressions(self, since: str | None) -> list[tuple[str, str]]:
        """Profiles globally suppressed (unsubscribe, spam complaint, bounce) since a timestamp."""
        since = since or "1970-01-01T00:00:00+00:00"
        url = "/api/profiles"
        params: dict | None = {
            "additional-fields[profile]": "subscriptions",
            "filter": f"greater-than(subscriptions.email.marketing.suppression.timestamp,{since})",
            "page[size]": MAX_PAGE,
        }
        found: list[tuple[str, str]] = []
        while url:
            r = self.http.request("get_profiles", "GET", url, params=params)
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_first_error(r))
            body = r.json()
            for p in body["data"]:
                email = p["attributes"].get("email")
                marketing = (((p["attributes"].get("subscriptions") or {}).get("email") or {}).get("marketing")) or {}
                for s in marketing.get("suppression") or []:
                    if email:
                        found.append((email.lower(), SUPPRESSION_REASONS.get(s["reason"], "suppressed")))
            url = (body.get("links") or {}).get("next")
            params = None
        return found
