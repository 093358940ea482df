"""A local Klaviyo (revision 2026-07-15) that behaves like an account, for tests and the benchmark.

Validates every request against ../shared/specs/klaviyo/ (bodies, parameters, the `revision`
header), enforces the documented batch sizes and per-endpoint burst/steady limits (429 with
Retry-After), and keeps profiles, lists, memberships, consent and suppressions. Bulk-subscribe is
implemented like the real one (it clears UNSUBSCRIBE / SPAM_REPORT suppressions) so a test would
catch a client that called it.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from fake_common import (
    FakeServer,
    SlidingWindow,
    SpecViolation,
    klaviyo_operations,
    parse_limit,
    retry_after_seconds,
)
from werkzeug.wrappers import Request, Response

API_KEY = "pk_test_c360_fake"
STANDARD = ("email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale", "title",
            "image")
_FILTER = re.compile(r"^(equals|any|greater-than)\(([\w.]+),(.*)\)$")


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time(), UTC).isoformat()


def _parse_filter(text: str) -> tuple[str, str, object]:
    m = _FILTER.match(text or "")
    if not m:
        raise SpecViolation(f"unsupported filter {text!r}")
    op, fld, raw = m.groups()
    value = json.loads(raw) if raw[:1] in ('"', "[") else raw
    return op, fld, value


class FakeKlaviyo(FakeServer):
    """Klaviyo account state plus failure injection; see the module docstring."""

    def __init__(self, *, api_key: str = API_KEY, time_scale: float = 1.0, job_polls: int = 0,
                 limits: dict[str, tuple[str, str]] | None = None, enforce_limits: bool = True):
        self.operations = klaviyo_operations()
        self.api_key = api_key
        self.time_scale = time_scale
        self.job_polls = job_polls  # polls answered "processing" before a job reports "complete"
        self.enforce_limits = enforce_limits
        self.windows: dict[str, list[SlidingWindow]] = {}
        for op in self.operations.values():
            spec = (limits or {}).get(op.operation_id) or (
                (op.rate_limit["burst"], op.rate_limit["steady"]) if op.rate_limit else None
            )
            if spec:
                self.windows[op.operation_id] = [
                    SlidingWindow(c, s / time_scale) for c, s in (parse_limit(x) for x in spec)
                ]
        self.ids = itertools.count(1)
        self.profiles: dict[str, dict] = {}  # id -> profile
        self.by_email: dict[str, str] = {}
        self.by_external_id: dict[str, str] = {}
        self.lists: dict[str, dict] = {}  # id -> {"name", "members": set(profile ids)}
        self.jobs: dict[str, dict] = {}
        self.reject_emails: set[str] = set()  # rows reported in a job's import errors
        self.invalid_emails: set[str] = set()  # a job containing one is refused whole (400)
        self.import_keys: set[str] = set()  # every profile attribute ever sent to a bulk import
        self.link_base: str | None = None  # where `next` links point (another server: a hostile or broken API)
        super().__init__()

    # -- plumbing ----------------------------------------------------------------------------
    def authorize(self, request: Request) -> Response | None:
        """`Authorization: Klaviyo-API-Key <key>` is required."""
        if request.headers.get("Authorization") != f"Klaviyo-API-Key {self.api_key}":
            return self.error(401, "Not Authenticated", "missing or wrong API key")
        return None

    def before(self, op, request: Request) -> Response | None:
        """Check the revision header and the per-endpoint burst/steady windows (429 + Retry-After)."""
        if request.headers.get("revision") != "2026-07-15":
            return self.error(400, "Invalid revision", f"revision {request.headers.get('revision')!r}", op)
        if not self.enforce_limits:
            return None
        with self.lock:
            now = time.monotonic()
            windows = self.windows.get(op.operation_id, [])
            wait = max((w.wait_needed(now) for w in windows), default=0.0)
            if wait > 0:
                resp = self.error(429, "Request was throttled.", "Request was throttled. Expected available in "
                                  f"{retry_after_seconds(wait, self.time_scale)} seconds.", op, code="throttled")
                resp.headers["Retry-After"] = retry_after_seconds(wait, self.time_scale)
                return resp
            for w in windows:
                w.log.append(now)
        return None

    def error(self, status: int, title: str, detail: str, op=None, code: str | None = None) -> Response:
        """A JSON:API error document."""
        body = {"errors": [{"id": f"err-{next(self.ids)}", "code": code or title.lower().replace(" ", "_"),
                            "title": title, "detail": detail, "source": {"pointer": "/data"}}]}
        return Response(json.dumps(body), status=status, content_type="application/vnd.api+json")

    def respond(self, status: int, payload) -> Response:
        """A JSON:API response."""
        if payload is None:
            return Response(status=status)
        return Response(json.dumps(payload), status=status, content_type="application/vnd.api+json")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):08d}"

    # -- views for tests -----------------------------------------------------------------------
    def list_by_name(self, name: str) -> dict | None:
        """The list with this name, or None."""
        return next((lst for lst in self.lists.values() if lst["name"] == name), None)

    def members(self, name: str) -> set[str]:
        """Emails on the named list."""
        lst = self.list_by_name(name)
        return set() if lst is None else {self.profiles[p]["email"] for p in lst["members"]}

    def profile(self, email: str) -> dict | None:
        """The profile with this email, or None."""
        pid = self.by_email.get(email)
        return None if pid is None else self.profiles[pid]

    def add_profile(self, email: str, *, suppression: str | None = None, consent: str = "NEVER_SUBSCRIBED",
                    **attrs) -> str:
        """Seed a profile (optionally suppressed: UNSUBSCRIBE, SPAM_COMPLAINT, HARD_BOUNCE)."""
        pid = self._new_id("01P")
        self.profiles[pid] = {"id": pid, "email": email, "properties": {}, "consent": consent,
                              "suppression": [{"reason": suppression, "timestamp": _iso()}] if suppression else [],
                              "created": _iso(), **attrs}
        if suppression:
            self.profiles[pid]["consent"] = "UNSUBSCRIBED"
        self.by_email[email] = pid
        return pid

    # -- lists -----------------------------------------------------------------------------
    def _list_resource(self, lid: str) -> dict:
        lst = self.lists[lid]
        return {"type": "list", "id": lid, "attributes": {"name": lst["name"], "created": lst["created"],
                                                          "updated": lst["created"], "opt_in_process": "single_opt_in"},
                "links": {"self": f"{self.url}/api/lists/{lid}"}}

    def op_get_lists(self, request, body):
        """GET /api/lists."""
        data = list(self.lists)
        if "filter" in request.args:
            op, fld, value = _parse_filter(request.args["filter"])
            if (op, fld) != ("equals", "name"):
                return 400, self.error(400, "Invalid filter", request.args["filter"])
            data = [lid for lid in data if self.lists[lid]["name"] == value]
        return 200, {"data": [self._list_resource(lid) for lid in data[:10]],
                     "links": {"self": f"{self.url}/api/lists"}}

    def op_create_list(self, request, body):
        """POST /api/lists."""
        lid = self._new_id("L")
        self.lists[lid] = {"name": body["data"]["attributes"]["name"], "members": set(), "created": _iso()}
        self.ops.append(("create_list", self.lists[lid]["name"]))
        return 201, {"data": self._list_resource(lid), "links": {"self": f"{self.url}/api/lists/{lid}"}}

    def _relationship(self, request, body, id, add: bool):
        if id not in self.lists:
            return 404, self.error(404, "Not found", f"list {id} does not exist")
        ids = [d["id"] for d in body["data"]]
        if len(ids) > 1000:
            return 400, self.error(400, "Invalid input", "at most 1000 profiles per call")
        unknown = [pid for pid in ids if pid not in self.profiles]
        if unknown:
            return 400, self.error(400, "Invalid input", f"unknown profile ids: {unknown[:3]}")
        members = self.lists[id]["members"]
        for pid in ids:
            self.ops.append(("list_add" if add else "list_remove", self.profiles[pid]["email"]))
            (members.add if add else members.discard)(pid)
        return 204, None

    def add_to_list(self, name: str, email: str) -> None:
        """A marketer puts a person on a list in the Klaviyo UI (the list and profile are made if missing)."""
        lst = self.list_by_name(name)
        if lst is None:
            lid = self._new_id("L")
            self.lists[lid] = lst = {"name": name, "members": set(), "created": _iso()}
        lst["members"].add(self.by_email.get(email) or self.add_profile(email))

    def op_get_profile_ids_for_list(self, request, body, id):
        """GET /api/lists/{id}/relationships/profiles."""
        if id not in self.lists:
            return 404, self.error(404, "Not found", f"list {id} does not exist")
        ids = sorted(self.lists[id]["members"])
        if "filter" in request.args:
            op, fld, value = _parse_filter(request.args["filter"])
            if fld != "email" or op not in ("any", "equals"):
                return 400, self.error(400, "Invalid filter", request.args["filter"])
            wanted = set(value) if op == "any" else {value}
            if op == "any" and len(value) > 100:
                return 400, self.error(400, "Invalid filter", "at most 100 values in any()")
            ids = [pid for pid in ids if self.profiles[pid]["email"] in wanted]
        size = int(request.args.get("page[size]", 20))
        start = int(request.args.get("page[cursor]", 0))
        links = {"self": f"{self.url}{request.full_path}"}
        if start + size < len(ids):
            args = {k: v for k, v in request.args.items() if k != "page[cursor]"}
            links["next"] = (f"{self.link_base or self.url}/api/lists/{id}/relationships/profiles?"
                             + urlencode({**args, "page[cursor]": start + size}))
        return 200, {"data": [{"type": "profile", "id": pid} for pid in ids[start : start + size]], "links": links}

    def op_add_profiles_to_list(self, request, body, id):
        """POST /api/lists/{id}/relationships/profiles."""
        return self._relationship(request, body, id, add=True)

    def op_remove_profiles_from_list(self, request, body, id):
        """DELETE /api/lists/{id}/relationships/profiles."""
        return self._relationship(request, body, id, add=False)

    # -- profiles and bulk import jobs ------------------------------------------------------
    def _upsert(self, attrs: dict) -> str:
        email = attrs.get("email")
        pid = self.by_email.get(email) if email else None
        if pid is None and attrs.get("external_id"):
            pid = self.by_external_id.get(attrs["external_id"])
        if pid is None:
            pid = self.add_profile(email)
        profile = self.profiles[pid]
        for key in STANDARD:
            if key in attrs:  # an omitted attribute is left as it is (Klaviyo's semantics)
                profile[key] = attrs[key]
        for key, value in (attrs.get("properties") or {}).items():
            profile["properties"][key] = value
        if email:
            self.by_email[email] = pid
        if profile.get("external_id"):
            self.by_external_id[profile["external_id"]] = pid
        return pid

    def _job_resource(self, jid: str) -> dict:
        job = self.jobs[jid]
        status = "processing" if job["polls_left"] > 0 else "complete"
        return {"type": "profile-bulk-import-job", "id": jid,
                "attributes": {"status": status, "created_at": job["created"], "total_count": job["total"],
                               "completed_count": job["total"] - len(job["errors"]) if status == "complete" else 0,
                               "failed_count": len(job["errors"]) if status == "complete" else 0,
                               "completed_at": job["created"] if status == "complete" else None,
                               "expires_at": None, "started_at": job["created"]},
                "links": {"self": f"{self.url}/api/profile-bulk-import-jobs/{jid}"}}

    def op_bulk_import_profiles(self, request, body):
        """POST /api/profile-bulk-import-jobs."""
        profiles = body["data"]["attributes"]["profiles"]["data"]
        if len(profiles) > 10_000:
            return 400, self.error(400, "Invalid input", "at most 10,000 profiles per job")
        if len(request.get_data()) > 5 * 1024 * 1024:
            return 413, self.error(413, "Payload too large", "at most 5 MB per job")
        bad = [p["attributes"].get("email") for p in profiles if p["attributes"].get("email") in self.invalid_emails]
        if bad:
            return 400, self.error(400, "Invalid input", f"invalid email address at {bad[0]!r}")
        lists = [d["id"] for d in ((body["data"].get("relationships") or {}).get("lists") or {}).get("data", [])]
        for lid in lists:
            if lid not in self.lists:
                return 404, self.error(404, "Not found", f"list {lid} does not exist")
        jid = self._new_id("J")
        errors = []
        for i, p in enumerate(profiles):
            attrs = p["attributes"]
            if attrs.get("email") in self.reject_emails:
                errors.append({"type": "import-error", "id": self._new_id("E"),
                               "attributes": {"code": "invalid", "title": "Invalid input",
                                              "detail": "The email address is not deliverable.",
                                              "source": {"pointer": f"/data/attributes/profiles/data/{i}"},
                                              "original_payload": attrs}})
                continue
            pid = self._upsert(attrs)
            self.import_keys |= set(attrs)
            self.ops.append(("upsert", attrs.get("email")))
            for lid in lists:
                self.lists[lid]["members"].add(pid)
                self.ops.append(("list_add", attrs.get("email")))
        self.jobs[jid] = {"total": len(profiles), "errors": errors, "polls_left": self.job_polls, "created": _iso()}
        return 202, {"data": self._job_resource(jid), "links": {"self": f"{self.url}/api/profile-bulk-import-jobs"}}

    def op_get_bulk_import_profiles_job(self, request, body, job_id):
        """GET /api/profile-bulk-import-jobs/{job_id}."""
        if job_id not in self.jobs:
            return 404, self.error(404, "Not found", job_id)
        job = self.jobs[job_id]
        resource = self._job_resource(job_id)
        job["polls_left"] = max(0, job["polls_left"] - 1)
        return 200, {"data": resource, "links": {"self": f"{self.url}/api/profile-bulk-import-jobs/{job_id}"}}

    def op_get_errors_for_bulk_import_profiles_job(self, request, body, id):
        """GET /api/profile-bulk-import-jobs/{id}/import-errors."""
        if id not in self.jobs:
            return 404, self.error(404, "Not found", id)
        size = int(request.args.get("page[size]", 20))
        start = int(request.args.get("page[cursor]", 0))
        errors = self.jobs[id]["errors"]
        links = {"self": f"{self.url}{request.full_path}"}
        if start + size < len(errors):
            links["next"] = (f"{self.link_base or self.url}/api/profile-bulk-import-jobs/{id}/import-errors?"
                             + urlencode({"page[size]": size, "page[cursor]": start + size}))
        return 200, {"data": errors[start : start + size], "links": links}

    def _profile_resource(self, p: dict, subscriptions: bool) -> dict:
        attrs = {k: p.get(k) for k in STANDARD}
        attrs["properties"] = dict(p["properties"])
        attrs["created"] = p["created"]
        if subscriptions:
            marketing = {"can_receive_email_marketing": not p["suppression"], "consent": p["consent"],
                         "suppression": list(p["suppression"]), "list_suppressions": []}
            attrs["subscriptions"] = {"email": {"marketing": marketing}}
        return {"type": "profile", "id": p["id"], "attributes": attrs,
                "links": {"self": f"{self.url}/api/profiles/{p['id']}"}}

    def op_get_profiles(self, request, body):
        """GET /api/profiles."""
        rows = list(self.profiles.values())
        if "filter" in request.args:
            op, fld, value = _parse_filter(request.args["filter"])
            if fld in ("email", "id") and op in ("any", "equals"):
                wanted = set(value) if op == "any" else {value}
                if op == "any" and len(value) > 100:
                    return 400, self.error(400, "Invalid filter", "at most 100 values in any()")
                rows = [p for p in rows if p[fld] in wanted]
            elif fld == "subscriptions.email.marketing.suppression.timestamp" and op == "greater-than":
                rows = [p for p in rows if any(s["timestamp"] > value for s in p["suppression"])]
            else:
                return 400, self.error(400, "Invalid filter", request.args["filter"])
        size = int(request.args.get("page[size]", 20))
        start = int(request.args.get("page[cursor]", 0))
        subs = "subscriptions" in request.args.get("additional-fields[profile]", "")
        links = {"self": f"{self.url}/api/profiles"}
        if start + size < len(rows):
            args = {k: v for k, v in request.args.items() if k != "page[cursor]"}
            links["next"] = (f"{self.link_base or self.url}/api/profiles?"
                             + urlencode({**args, "page[cursor]": start + size}))
        return 200, {"data": [self._profile_resource(p, subs) for p in rows[start : start + size]], "links": links}

    # -- consent endpoints (a segment sync must never call these) ----------------------------
    def op_bulk_subscribe_profiles(self, request, body):
        """POST /api/profile-subscription-bulk-create-jobs."""
        for p in body["data"]["attributes"]["profiles"]["data"]:
            email = p["attributes"].get("email")
            self.ops.append(("subscribe", email))
            if email in self.by_email:  # like the real endpoint: clears UNSUBSCRIBE / SPAM_REPORT
                prof = self.profiles[self.by_email[email]]
                prof["suppression"], prof["consent"] = [], "SUBSCRIBED"
        return 202, None

    def op_bulk_unsubscribe_profiles(self, request, body):
        """POST /api/profile-subscription-bulk-delete-jobs."""
        for p in body["data"]["attributes"]["profiles"]["data"]:
            self.ops.append(("unsubscribe", p["attributes"].get("email")))
        return 202, None

    def op_bulk_suppress_profiles(self, request, body):
        """POST /api/profile-suppression-bulk-create-jobs."""
        self.ops.append(("suppress", None))
        return 202, None

    def op_request_profile_deletion(self, request, body):
        """POST /api/data-privacy-deletion-jobs."""
        attrs = body["data"]["attributes"]["profile"]["data"].get("attributes") or {}
        email = attrs.get("email")
        self.ops.append(("delete", email))
        pid = self.by_email.pop(email, None)
        if pid:
            for lst in self.lists.values():
                lst["members"].discard(pid)
            del self.profiles[pid]
        return 202, None
