"""A local Mailchimp Marketing API 3.0 that behaves like an account, for tests.

Validates every request against the Swagger 2.0 slices in ../shared/specs/mailchimp/, enforces the
batch sizes (500 members, 500 per static-segment side) and the 10 simultaneous connections (the
11th is refused with 429), and keeps audiences, members (status, merge fields), static segments
(tags), forgotten (permanently deleted) and compliance-state emails.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime

from fake_common import FakeServer, mailchimp_operations
from werkzeug.wrappers import Request, Response

API_KEY = "local-fake-key-for-tests-us21"  # not a real key: the fake server only compares it


def h(email: str) -> str:
    """Subscriber hash."""
    return hashlib.md5(email.lower().encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeMailchimp(FakeServer):
    """Mailchimp account state plus failure injection; see the module docstring."""

    def __init__(self, *, api_key: str = API_KEY, max_connections: int = 10, audiences: int = 1):
        self.operations = mailchimp_operations()
        self.api_key = api_key
        self.max_connections = max_connections
        self.active = 0
        self.max_active = 0
        self.refused = 0
        self._conn_lock = threading.Lock()
        self.ids = itertools.count(1)
        self.audiences: dict[str, dict] = {}
        for i in range(audiences):
            lid = f"aud{i + 1:04d}"
            self.audiences[lid] = {
                "name": f"Audience {i + 1}", "created": _now(), "members": {}, "segments": {},
                "merge_fields": [{"tag": "FNAME", "name": "First Name", "type": "text"},
                                 {"tag": "LNAME", "name": "Last Name", "type": "text"}],
            }
        self.forgotten: set[str] = set()
        self.compliance: set[str] = set()
        self.reject_emails: set[str] = set()  # batch errors (ERROR_GENERIC, invalid address)
        super().__init__()

    @property
    def audience(self) -> dict:
        """The first (default) audience."""
        return next(iter(self.audiences.values()))

    def members_of(self, tag: str) -> set[str]:
        """Emails in the static segment (tag) with this name."""
        seg = next((s for s in self.audience["segments"].values() if s["name"] == tag), None)
        if seg is None:
            return set()
        return {self.audience["members"][x]["email_address"] for x in seg["members"]}

    def member(self, email: str) -> dict | None:
        """The member with this email in the default audience, or None."""
        return self.audience["members"].get(h(email))

    def add_member(self, email: str, status: str = "subscribed", **merge) -> None:
        """Seed a member."""
        self.audience["members"][h(email)] = {"email_address": email, "status": status, "merge_fields": dict(merge),
                                              "last_changed": _now(), "tags": set()}

    # -- plumbing ----------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        with self._conn_lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            over = self.active > self.max_connections
            if over:
                self.refused += 1
        try:
            if over:
                resp = self.error(429, "Too Many Requests",
                                  f"You have exceeded the limit of {self.max_connections} simultaneous connections.")
                with self.lock:
                    self.calls.append(("refused", 429))
                return resp(environ, start_response)
            return super()._wsgi(environ, start_response)
        finally:
            with self._conn_lock:
                self.active -= 1

    def authorize(self, request: Request) -> Response | None:
        """HTTP Basic with the API key as password is required."""
        auth = request.headers.get("Authorization", "")
        try:
            _user, _, key = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            key = ""
        if not auth.startswith("Basic ") or key != self.api_key:
            return self.error(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access "
                              "the wrong datacenter.")
        return None

    def error(self, status: int, title: str, detail: str, op=None) -> Response:
        """A problem+json document."""
        body = {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title, "status": status,
                "detail": detail, "instance": f"inst-{next(self.ids)}"}
        return Response(json.dumps(body), status=status, content_type="application/problem+json")

    def _aud(self, list_id: str):
        return self.audiences.get(list_id)

    def _member_resource(self, lid: str, m: dict) -> dict:
        aud = self.audiences[lid]
        tags = [{"id": int(sid), "name": aud["segments"][sid]["name"]} for sid in sorted(m["tags"])]
        return {"id": h(m["email_address"]), "email_address": m["email_address"], "status": m["status"],
                "merge_fields": dict(m["merge_fields"]), "tags": tags, "tags_count": len(tags), "list_id": lid,
                "last_changed": m["last_changed"]}

    # -- audiences, merge fields, segments ----------------------------------------------------
    def op_getLists(self, request, body):
        """GET /3.0/lists."""
        lists = [{"id": lid, "name": a["name"], "date_created": a["created"]} for lid, a in self.audiences.items()]
        return 200, {"lists": lists, "total_items": len(lists),
                     "constraints": {"may_create": True, "max_instances": 100, "current_total_instances": len(lists)}}

    def op_getListsIdMergeFields(self, request, body, list_id):
        """GET /3.0/lists/{list_id}/merge-fields."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        fields = [{"merge_id": i + 1, "tag": f["tag"], "name": f["name"], "type": f["type"], "list_id": list_id}
                  for i, f in enumerate(aud["merge_fields"])]
        return 200, {"merge_fields": fields, "list_id": list_id, "total_items": len(fields)}

    def op_postListsIdMergeFields(self, request, body, list_id):
        """POST /3.0/lists/{list_id}/merge-fields."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        tag = body.get("tag") or body["name"].upper()[:10]
        if any(f["tag"] == tag for f in aud["merge_fields"]):
            return 400, self.error(400, "Invalid Resource", f"A Merge Field with the tag \"{tag}\" already exists.")
        aud["merge_fields"].append({"tag": tag, "name": body["name"], "type": body["type"]})
        self.ops.append(("merge_field", tag))
        return 200, {"merge_id": len(aud["merge_fields"]), "tag": tag, "name": body["name"], "type": body["type"],
                     "list_id": list_id}

    def op_previewASegment(self, request, body, list_id):
        """GET /3.0/lists/{list_id}/segments."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        segs = [{"id": int(sid), "name": s["name"], "member_count": len(s["members"]), "type": "static",
                 "list_id": list_id} for sid, s in aud["segments"].items()]
        return 200, {"segments": segs, "list_id": list_id, "total_items": len(segs)}

    def op_postListsIdSegments(self, request, body, list_id):
        """POST /3.0/lists/{list_id}/segments."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        sid = str(next(self.ids))
        aud["segments"][sid] = {"name": body["name"], "members": set()}
        self.ops.append(("create_tag", body["name"]))
        return 200, {"id": int(sid), "name": body["name"], "member_count": 0, "type": "static", "list_id": list_id}

    # -- members -------------------------------------------------------------------------------
    def _refusal(self, email: str) -> tuple[str, str] | None:
        if h(email) in self.forgotten:
            return ("Forgotten Email Not Subscribed",
                    f"{email} was permanently deleted and cannot be re-imported. The contact must re-subscribe.")
        if email in self.compliance:
            return ("Member In Compliance State",
                    f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review.")
        return None

    def _set_status(self, m: dict, status: str) -> None:
        if m["status"] != status:
            self.ops.append(("status_change", m["email_address"], m["status"], status))
            m["status"] = status

    def op_postListsId(self, request, body, list_id):
        """POST /3.0/lists/{list_id}."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        if len(body["members"]) > 500:
            return 400, self.error(400, "Invalid Resource", "Up to 500 members may be added or updated per call.")
        new, updated, errors = [], [], []
        for item in body["members"]:
            email = item["email_address"]
            refusal = self._refusal(email)
            if refusal or email in self.reject_emails:
                detail = refusal[1] if refusal else f"{email} looks fake or invalid, please enter a real email address."
                errors.append({"email_address": email, "error": detail, "error_code": "ERROR_GENERIC"})
                continue
            existing = aud["members"].get(h(email))
            if existing is not None:
                if not body.get("update_existing"):
                    errors.append({"email_address": email, "error_code": "ERROR_CONTACT_EXISTS",
                                   "error": f"{email} is already a list member, do you want to update? please "
                                            "provide update_existing:true in the request body"})
                    continue
                existing["merge_fields"].update(item.get("merge_fields") or {})
                if "status" in item:  # the real batch endpoint applies the status to existing members
                    self._set_status(existing, item["status"])
                self.ops.append(("upsert", email))
                updated.append(self._member_resource(list_id, existing))
                continue
            if "status" not in item:
                errors.append({"email_address": email, "error_code": "ERROR_GENERIC", "error": "status is required"})
                continue
            aud["members"][h(email)] = m = {"email_address": email, "status": item["status"], "tags": set(),
                                            "merge_fields": dict(item.get("merge_fields") or {}),
                                            "last_changed": _now(), "timestamp_opt": item.get("timestamp_opt")}
            self.ops.append(("upsert", email))
            new.append(self._member_resource(list_id, m))
        return 200, {"new_members": new, "updated_members": updated, "errors": errors, "total_created": len(new),
                     "total_updated": len(updated), "error_count": len(errors)}

    def op_putListsIdMembersId(self, request, body, list_id, subscriber_hash):
        """PUT /3.0/lists/{list_id}/members/{subscriber_hash}."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        email = body["email_address"]
        if h(email) != subscriber_hash:
            return 400, self.error(400, "Invalid Resource", "The subscriber hash does not match the email address.")
        refusal = self._refusal(email)
        if refusal:
            return 400, self.error(400, *refusal)
        m = aud["members"].get(subscriber_hash)
        if m is None:
            status = body.get("status") or body["status_if_new"]
            aud["members"][subscriber_hash] = m = {"email_address": email, "status": status, "tags": set(),
                                                   "merge_fields": {}, "last_changed": _now(),
                                                   "timestamp_opt": body.get("timestamp_opt")}
        elif "status" in body:  # PUT with `status` changes an existing member's status (re-subscribes!)
            self._set_status(m, body["status"])
        m["merge_fields"].update(body.get("merge_fields") or {})
        self.ops.append(("upsert", email))
        return 200, self._member_resource(list_id, m)

    def tag(self, name: str, email: str, status: str = "subscribed") -> None:
        """A marketer tags a member in the Mailchimp UI (the tag and member are made if missing)."""
        aud = self.audience
        sid = next((s for s, v in aud["segments"].items() if v["name"] == name), None)
        if sid is None:
            sid = str(next(self.ids))
            aud["segments"][sid] = {"name": name, "members": set()}
        if h(email) not in aud["members"]:
            self.add_member(email, status)
        aud["segments"][sid]["members"].add(h(email))
        aud["members"][h(email)]["tags"].add(sid)

    def op_getListsIdSegmentsIdMembers(self, request, body, list_id, segment_id):
        """GET /3.0/lists/{list_id}/segments/{segment_id}/members."""
        aud = self._aud(list_id)
        if aud is None or segment_id not in aud["segments"]:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        hidden = {s for s, flag in (("cleaned", "include_cleaned"), ("transactional", "include_transactional"),
                                    ("unsubscribed", "include_unsubscribed")) if request.args.get(flag) != "true"}
        members = [aud["members"][x] for x in sorted(aud["segments"][segment_id]["members"])]
        members = [m for m in members if m["status"] not in hidden]
        offset, count = int(request.args.get("offset", 0)), int(request.args.get("count", 10))
        page = [self._member_resource(list_id, m) for m in members[offset : offset + count]]
        if "fields" in request.args:
            keep = {f.removeprefix("members.") for f in request.args["fields"].split(",")}
            page = [{k: v for k, v in m.items() if k in keep} for m in page]
        return 200, {"members": page, "total_items": len(members)}

    def op_postListsIdSegmentsId(self, request, body, list_id, segment_id):
        """POST /3.0/lists/{list_id}/segments/{segment_id}."""
        aud = self._aud(list_id)
        if aud is None or segment_id not in aud["segments"]:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        add, remove = body.get("members_to_add") or [], body.get("members_to_remove") or []
        if len(add) > 500 or len(remove) > 500:
            return 400, self.error(400, "Invalid Resource", "at most 500 emails in members_to_add / members_to_remove")
        seg = aud["segments"][segment_id]
        added, removed, missing = [], [], []
        for email, adding in [(e, True) for e in add] + [(e, False) for e in remove]:
            m = aud["members"].get(h(email))
            if m is None:
                missing.append(email)
                continue
            if adding:
                seg["members"].add(h(email))
                m["tags"].add(segment_id)
                self.ops.append(("tag_add", email))
                added.append(self._member_resource(list_id, m))
            else:
                seg["members"].discard(h(email))
                m["tags"].discard(segment_id)
                self.ops.append(("tag_remove", email))
                removed.append(self._member_resource(list_id, m))
        errors = [{"email_addresses": missing, "error": "Email addresses are not list members"}] if missing else []
        return 200, {"members_added": added, "members_removed": removed, "errors": errors,
                     "total_added": len(added), "total_removed": len(removed), "error_count": len(missing)}

    def op_postListMemberTags(self, request, body, list_id, subscriber_hash):
        """POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags."""
        aud = self._aud(list_id)
        m = aud and aud["members"].get(subscriber_hash)
        if not m:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        for tag in body["tags"]:
            sid = next((s for s, v in aud["segments"].items() if v["name"] == tag["name"]), None)
            if sid is None and tag["status"] == "active":
                sid = str(next(self.ids))
                aud["segments"][sid] = {"name": tag["name"], "members": set()}
            if sid is not None:
                (aud["segments"][sid]["members"].add if tag["status"] == "active"
                 else aud["segments"][sid]["members"].discard)(subscriber_hash)
                (m["tags"].add if tag["status"] == "active" else m["tags"].discard)(sid)
                self.ops.append(("tag_add" if tag["status"] == "active" else "tag_remove", m["email_address"]))
        return 204, None

    def op_postListsIdMembersHashActionsDeletePermanent(self, request, body, list_id, subscriber_hash):
        """POST /3.0/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent."""
        aud = self._aud(list_id)
        m = aud and aud["members"].pop(subscriber_hash, None)
        if not m:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        for seg in aud["segments"].values():
            seg["members"].discard(subscriber_hash)
        self.forgotten.add(subscriber_hash)
        self.ops.append(("delete", m["email_address"]))
        return 204, None

    def op_deleteListsIdMembersId(self, request, body, list_id, subscriber_hash):
        """DELETE /3.0/lists/{list_id}/members/{subscriber_hash}."""
        aud = self._aud(list_id)
        m = aud and aud["members"].get(subscriber_hash)
        if not m:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        self.ops.append(("archive", m["email_address"]))
        self._set_status(m, "archived")
        return 204, None

    def op_getListsIdMembers(self, request, body, list_id):
        """GET /3.0/lists/{list_id}/members."""
        aud = self._aud(list_id)
        if aud is None:
            return 404, self.error(404, "Resource Not Found", "The requested resource could not be found.")
        members = list(aud["members"].values())
        if "status" in request.args:
            members = [m for m in members if m["status"] == request.args["status"]]
        if "since_last_changed" in request.args:
            members = [m for m in members if m["last_changed"] > request.args["since_last_changed"]]
        offset, count = int(request.args.get("offset", 0)), int(request.args.get("count", 10))
        page = members[offset : offset + count]
        return 200, {"members": [self._member_resource(list_id, m) for m in page], "list_id": list_id,
                     "total_items": len(members)}
