"""Mailchimp Marketing API 3.0: members in the account's audience, the segment as a static segment (tag).

Consent rules, as the API allows them:
- new members are created by the batch endpoint with `update_existing: false`, so the `status` in
  that request can only ever apply to a member that did not exist; an existing member comes back as
  `ERROR_CONTACT_EXISTS` and is then updated by `PUT .../members/{hash}` with `status_if_new` only;
- that status is `subscribed` only with the warehouse's opt-in record, whose time is sent as
  `timestamp_opt`; without one, `transactional`;
- an existing member's status is never sent; "Member In Compliance State" and "Forgotten Email Not
  Subscribed" are final (rejected, not retried);
- leaving the segment removes the member from the static segment (the tag), never an unsubscribe,
  never a deletion; `delete-permanent` is only used for erasure requests.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

from ..http import CallStats, DestinationFatal, HttpClient, OutcomeUnknown, RetryPolicy, find_or_create
from .base import BatchRejected, Destination, OnSubmitted, Outcomes, Row, RowOutcome, payload_fields

log = logging.getLogger(__name__)

MAX_BATCH_MEMBERS = 500
MAX_CONNECTIONS = 10
# Well-known merge tags of every audience; other properties get a derived tag (created if missing).
KNOWN_TAGS = {"first_name": "FNAME", "last_name": "LNAME", "phone_number": "PHONE", "birthday": "BIRTHDAY"}
FINAL_TITLES = ("Member In Compliance State", "Forgotten Email Not Subscribed")
STATUS_SUPPRESSION = {"unsubscribed": "unsubscribed", "cleaned": "bounced"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lower-cased email."""
    return hashlib.md5(email.lower().encode()).hexdigest()


def base_url_from_key(api_key: str) -> str | None:
    """`https://<dc>.api.mailchimp.com/3.0` from a key ending in `-<dc>`, or None."""
    match = re.search(r"-([a-z]+[0-9]+)$", api_key)
    return f"https://{match.group(1)}.api.mailchimp.com/3.0" if match else None


def merge_tag(prop: str) -> str:
    """The merge tag of a destination property (upper-case, at most 10 characters).

    A name that does not fit is cut to 7 characters plus 3 hex digits of its hash, so two long names
    with the same start (points_expiring, points_expire_at) get different tags, and a tag never
    changes when other fields are added or reordered.
    """
    if prop in KNOWN_TAGS:
        return KNOWN_TAGS[prop]
    clean = re.sub(r"[^A-Z0-9]", "", prop.upper()) or "FIELD"
    if len(clean) <= 10:
        return clean
    return clean[:7] + hashlib.md5(prop.encode()).hexdigest()[:3].upper()


def _problem(response) -> tuple[str | None, str]:
    try:
        body = response.json()
        return body.get("title"), f"{body.get('title', '')}: {body.get('detail', '')}"
    except ValueError:
        return None, response.text[:300]


class MailchimpDestination(Destination):
    """Mailchimp client used by the sync engine."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        list_name: str,
        fields: dict[str, str],
        overwrite_nulls: frozenset[str],
        get_ref: Callable[[str], str | None],
        set_ref: Callable[[str, str], None],
        stats: CallStats,
        policy: RetryPolicy,
        audience_id: str | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        max_connections: int = MAX_CONNECTIONS,
        upsert_batch_size: int = MAX_BATCH_MEMBERS,
        list_batch_size: int = MAX_BATCH_MEMBERS,
    ):
        super().__init__(
            name="mailchimp",
            upsert_batch_size=min(upsert_batch_size, MAX_BATCH_MEMBERS),
            list_batch_size=min(list_batch_size, MAX_BATCH_MEMBERS),
            upsert_adds_to_list=False,
        )
        self.max_connections = min(max_connections, MAX_CONNECTIONS)
        self.http = HttpClient(
            base_url,
            auth=("c360", api_key),
            policy=policy,
            timeout=timeout,
            max_connections=self.max_connections,
            stats=stats,
        )
        self.list_name = list_name
        self.tags = {prop: merge_tag(prop) for prop in fields}
        if len(set(self.tags.values())) != len(self.tags):
            raise ValueError(f"mailchimp: mapped properties collide as merge tags: {self.tags}")
        self.overwrite_nulls = overwrite_nulls
        self._get_ref = get_ref
        self._set_ref = set_ref
        self.audience_id = audience_id
        self.segment_id: str | None = None
        self.segment_created = False  # created by this run: nobody can be on it yet
        self._merge_tags: set[str] | None = None

    # -- audience, merge fields, static segment -------------------------------------------
    def _get(self, operation: str, path: str, params: dict | None = None) -> dict:
        r = self.http.request(operation, "GET", path, params=params)
        if r.status_code == 404:
            raise DestinationFatal(f"mailchimp: {path} not found")
        if r.status_code != 200:
            raise BatchRejected(r.status_code, *_problem(r))
        return r.json()

    def prepare(self) -> None:
        """Resolve the audience, make sure the merge fields exist, find or create the static segment."""
        if self.segment_id:
            return
        if not self.audience_id:
            self.audience_id = self._get_ref("audience_id")
        if not self.audience_id:
            body = self._get("getLists", "/lists", {"count": 1000, "sort_field": "date_created", "sort_dir": "ASC"})
            if not body["lists"]:
                raise DestinationFatal("mailchimp: the account has no audience; create one in Mailchimp first")
            if len(body["lists"]) > 1:
                log.warning("mailchimp: %d audiences, using the oldest (set MAILCHIMP_AUDIENCE_ID to choose)",
                            len(body["lists"]))
            self.audience_id = body["lists"][0]["id"]
            self._set_ref("audience_id", self.audience_id)
        if self._get_ref("merge_fields") != ",".join(sorted(self.tags.values())):
            for prop, tag in self.tags.items():
                find_or_create(f"mailchimp merge field {tag}", lambda tag=tag: self._find_merge_field(tag),
                               lambda prop=prop, tag=tag: self._create_merge_field(prop, tag), self.http)
            self._set_ref("merge_fields", ",".join(sorted(self.tags.values())))
        self.segment_id = self._get_ref("segment_id")
        if not self.segment_id:
            self.segment_id, self.segment_created = find_or_create(
                f"mailchimp tag {self.list_name!r}", self._find_segment, self._create_segment, self.http)
            if self.segment_created:
                log.info("mailchimp: created tag %r", self.list_name)
            self._set_ref("segment_id", self.segment_id)

    def _find_merge_field(self, tag: str) -> str | None:
        if self._merge_tags is None:
            self._merge_tags = {f["tag"] for f in self._get(
                "getListsIdMergeFields", f"/lists/{self.audience_id}/merge-fields", {"count": 1000})["merge_fields"]}
        return tag if tag in self._merge_tags else None

    def _create_merge_field(self, prop: str, tag: str) -> str:
        body = {"tag": tag, "name": prop, "type": "text", "required": False}
        try:
            r = self.http.request("postListsIdMergeFields", "POST", f"/lists/{self.audience_id}/merge-fields",
                                  json=body, idempotent=False)
        except OutcomeUnknown:
            self._merge_tags = None  # it may have been applied: read the fields again
            raise
        if r.status_code != 200:
            raise BatchRejected(r.status_code, *_problem(r))
        if self._merge_tags is not None:
            self._merge_tags.add(tag)
        return tag

    def _find_segment(self) -> str | None:
        segments = self._get("previewASegment", f"/lists/{self.audience_id}/segments",
                             {"type": "static", "count": 1000})
        found = [s for s in segments["segments"] if s.get("name") == self.list_name]
        return str(found[0]["id"]) if found else None

    def _create_segment(self) -> str:
        r = self.http.request("postListsIdSegments", "POST", f"/lists/{self.audience_id}/segments",
                              json={"name": self.list_name, "static_segment": []}, idempotent=False)
        if r.status_code != 200:
            raise BatchRejected(r.status_code, *_problem(r))
        return str(r.json()["id"])

    # -- members ---------------------------------------------------------------------------
    def merge_fields(self, row: Row) -> dict:
        """Merge fields of one row (null guard applied; an explicit null clears the field)."""
        fields = payload_fields(row.fields, self.overwrite_nulls)
        return {self.tags[p]: ("" if v is None else v if isinstance(v, int | float) else str(v))
                for p, v in fields.items()}

    @staticmethod
    def new_member_status(row: Row) -> dict:
        """Status of a member created now: subscribed only with the warehouse's opt-in record, sent as
        `timestamp_opt` (the consent evidence Mailchimp keeps); without one, transactional."""
        if row.opted_in_at is None or row.email_consent != "subscribed":
            return {"status": "transactional"}
        at = row.opted_in_at.astimezone(UTC) if row.opted_in_at.tzinfo else row.opted_in_at  # naive: UTC already
        return {"status": "subscribed", "timestamp_opt": at.strftime("%Y-%m-%dT%H:%M:%S+00:00")}

    def upsert(self, rows: list[Row], *, add_to_list: bool, on_submitted: OnSubmitted) -> Outcomes:
        """Create unknown members in one batch call; update known or existing ones with PUT status_if_new."""
        outcomes: Outcomes = {}
        new = [row for row in rows if row.synced_hash is None]
        known = [row for row in rows if row.synced_hash is not None]
        if new:
            body = {
                "members": [
                    {"email_address": row.email, **self.new_member_status(row),
                     "merge_fields": self.merge_fields(row)}
                    for row in new
                ],
                "update_existing": False,  # the status above can only apply to a member that did not exist
            }
            r = self.http.request("postListsId", "POST", f"/lists/{self.audience_id}", json=body)
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_problem(r))
            result = r.json()
            errors = {e.get("email_address"): e for e in result.get("errors") or []}
            for row in new:
                err = errors.get(row.email)
                if err is None:
                    outcomes[row.member_key] = RowOutcome(ok=True, dest_id=subscriber_hash(row.email))
                elif err.get("error_code") == "ERROR_CONTACT_EXISTS":
                    known.append(row)  # exists already: update without touching its status
                else:
                    text = (err.get("error") or "").lower()
                    # compliance state and forgotten (permanently deleted) emails are final
                    final = "compliance" in text or "permanently deleted" in text
                    code = "compliance" if final else err.get("error_code")
                    outcomes[row.member_key] = RowOutcome.rejected(400, code, err.get("error"))
        if known:
            with ThreadPoolExecutor(max_workers=self.max_connections) as pool:
                for row, outcome in zip(known, pool.map(self._put, known), strict=True):
                    outcomes[row.member_key] = outcome
        return outcomes

    def _put(self, row: Row) -> RowOutcome:
        # Only members known to exist are PUT (acknowledged before, or ERROR_CONTACT_EXISTS just now), so
        # `status_if_new` applies only to one deleted in Mailchimp since: it is not re-created as subscribed
        # (no timestamp_opt is sent to an existing member, whose opt-in record is Mailchimp's own).
        body = {"email_address": row.email, "status_if_new": "transactional",
                "merge_fields": self.merge_fields(row)}
        h = subscriber_hash(row.email)
        r = self.http.request("putListsIdMembersId", "PUT", f"/lists/{self.audience_id}/members/{h}", json=body)
        if r.status_code == 200:
            status = r.json().get("status")
            return RowOutcome(ok=True, dest_id=h, suppressed_reason=STATUS_SUPPRESSION.get(status))
        title, detail = _problem(r)
        code = "compliance" if title in FINAL_TITLES else title
        return RowOutcome.rejected(r.status_code, code, detail)

    def resume(self, job_id: str, rows: list[Row]) -> Outcomes:
        """Mailchimp calls here are synchronous: nothing is ever left pending."""
        raise NotImplementedError("mailchimp has no asynchronous jobs")

    def _segment(self, key: str, rows: list[Row]) -> Outcomes:
        emails = [row.email for row in rows]
        r = self.http.request("postListsIdSegmentsId", "POST",
                              f"/lists/{self.audience_id}/segments/{self.segment_id}", json={key: emails})
        if r.status_code != 200:
            raise BatchRejected(r.status_code, *_problem(r))
        failed: dict[str, str] = {}
        for err in r.json().get("errors") or []:
            for email in err.get("email_addresses") or []:
                failed[email] = err.get("error") or "error"
        return {
            row.member_key: (RowOutcome.rejected(400, "segment_error", failed[row.email]) if row.email in failed
                             else RowOutcome(ok=True, dest_id=subscriber_hash(row.email)))
            for row in rows
        }

    def list_is_new(self) -> bool:
        """Whether this run created the tag."""
        return self.segment_created

    def already_on_list(self, rows: list[Row]) -> dict[str, str | None]:
        """Rows already carrying the tag: the static segment's members (every status), 1,000 a page."""
        tagged: set[str] = set()
        offset = 0
        while True:
            r = self.http.request(
                "getListsIdSegmentsIdMembers", "GET", f"/lists/{self.audience_id}/segments/{self.segment_id}/members",
                params={"count": 1000, "offset": offset, "fields": "members.email_address,total_items",
                        "include_cleaned": "true", "include_transactional": "true",
                        "include_unsubscribed": "true"})
            if r.status_code != 200:
                raise BatchRejected(r.status_code, *_problem(r))
            members = r.json().get("members") or []
            tagged.update(m["email_address"].lower() for m in members if m.get("email_address"))
            offset += len(members)
            if len(members) < 1000:
                break
        return {row.member_key: subscriber_hash(row.email) for row in rows
                if row.email and row.email.lower() in tagged}

    def list_add(self, rows: list[Row]) -> Outcomes:
        """Add members to the static segment (the segment's tag)."""
        return self._segment("members_to_add", rows)

    def list_remove(self, rows: list[Row]) -> Outcomes:
        """Take members off the static segment; their subscription is untouched."""
        return self._segment("members_to_remove", rows)

    # -- erasure and suppressions ----------------------------------------------------------
    def delete_profile(self, email: str, dest_id: str | None) -> RowOutcome:
        """Permanently delete the member (erasure only); an unknown member counts as done."""
        if not self.audience_id:
            self.audience_id = self._get_ref("audience_id")
        if not self.audience_id:
            self.prepare()
        h = subscriber_hash(email)
        r = self.http.request("postListsIdMembersHashActionsDeletePermanent", "POST",
                              f"/lists/{self.audience_id}/members/{h}/actions/delete-permanent")
        if r.status_code in (204, 404):
            return RowOutcome(ok=True)
        return RowOutcome.rejected(r.status_code, *_problem(r))

    def fetch_suppressions(self, since: str | None) -> list[tuple[str, str]]:
        """Members unsubscribed or cleaned (bounced) in the audience, changed since a timestamp."""
        if not self.audience_id:
            self.prepare()
        found: list[tuple[str, str]] = []
        for status, reason in STATUS_SUPPRESSION.items():
            offset = 0
            while True:
                params = {"status": status, "count": 1000, "offset": offset}
                if since:
                    params["since_last_changed"] = since
                body = self._get("getListsIdMembers", f"/lists/{self.audience_id}/members", params)
                members = body.get("members") or []
                found.extend((m["email_address"].lower(), reason) for m in members if m.get("email_address"))
                if len(members) < 1000:
                    break
                offset += len(members)
        return found
