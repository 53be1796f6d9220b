"""Pure builders: a ticket as a FHIR Task with its ServiceRequest, a minimal Patient and the
Consent that says what the caller agreed to share, the searchset Bundle (paged by a cursor), the
CapabilityStatement and OperationOutcome; each checked by ``fhir.resources`` (R4B models, which
share R4's Task, ServiceRequest, Patient and Consent) before it leaves."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.errors import BadRequest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task
from transfers.tickets.states import PARTNER_ACTIONS, TRANSITIONS, TicketAction, TicketState, TicketStateError

FHIR_JSON = "application/fhir+json"
STATE_SYSTEM = "https://openline.invalid/fhir/CodeSystem/ticket-state"
# The coded outcome beside the free text (transfers/tickets/states.py OUTCOME_CODES): how a
# completed caller was helped, or why a decline or give-up did not go through.
OUTCOME_SYSTEM = "https://openline.invalid/fhir/CodeSystem/outcome"
# Our ticket states are already Task.status words (DESIGN.md): the table keeps that a checked fact.
TASK_STATUS: dict[str, str] = {state.value: state.value for state in TicketState}
SEARCH_PARAMS = (
    ("_lastUpdated", "date", "Changed since: ge or gt then an instant, e.g. ge2026-12-01T00:00:00Z"),
    ("status", "token", "One or more Task.status codes, comma-separated"),
    ("owner", "reference", "Organization/{id}: your own organisation"),
    ("_count", "number", "Tasks per page, 1 to 100 (default 50); Bundle.link next pages on"),
)
# What the caller's consent is, in the codes the HL7 Gravity SDOH guide uses for the Consent that
# goes with a handover (its word is "referral"; ours is "warm transfer"): a privacy consent (LOINC 59284-0, "Consent Document"), opting in to disclosure to the
# receiving organisation (its information recipient, IRCP).
CONSENT_SCOPE = {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
CONSENT_CATEGORY = {"system": "http://loinc.org", "code": "59284-0", "display": "Consent Document"}
CONSENT_POLICY = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
RECIPIENT = {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
DISCLOSE = {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "disclose"}
# The request stays active while the caller is still on their way to the service; a ticket that
# ended without help (declined, given up, cancelled) revokes it.
REQUEST_STATUS = {
    "requested": "active",
    "accepted": "active",
    "on-hold": "active",
    "in-progress": "active",
    "completed": "completed",
    "rejected": "revoked",
    "failed": "revoked",
    "cancelled": "revoked",
}
PATCHABLE = ("/status", "/statusReason", "/statusReason/text", "/output")


@dataclass(frozen=True)
class SharedCaller:
    """Only what the caller agreed to share (the partner API's own reading of the ticket)."""

    name: str | None
    contact_number: str | None


def _instant(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def consent_of(ticket: Any, *, organisation_id: int, organisation_name: str) -> dict[str, Any]:
    """Pure. What the caller agreed, as recorded in the call log before the warm transfer: their
    details shared with this organisation (the words of what it covers, as the listener recorded
    them), and texts to their number only if they said yes to those. A cancelled warm transfer's
    consent is no longer acted on (it may have been withdrawn): inactive."""
    texts = "permit" if ticket.sms_consent else "deny"
    return {
        "resourceType": "Consent",
        "id": "consent",
        "status": "inactive" if ticket.status == "cancelled" else "active",
        "scope": {"coding": [CONSENT_SCOPE], "text": "Sharing the caller's details for a warm transfer"},
        "category": [{"coding": [CONSENT_CATEGORY]}],
        "patient": {"reference": "#caller"},
        "dateTime": _instant(ticket.consent_recorded_at),
        "policyRule": {"coding": [CONSENT_POLICY], "text": "The caller agreed on the call, before the warm transfer"},
        "provision": {
            "type": "permit",
            "actor": [
                {
                    "role": {"coding": [RECIPIENT]},
                    "reference": {"reference": f"Organization/{organisation_id}", "display": organisation_name},
                }
            ],
            "action": [{"coding": [DISCLOSE]}],
            "code": [{"text": ticket.consent_covers}],
            "provision": [{"type": texts, "action": [{"text": "contact by text message"}]}],
        },
    }


def task_of(
    ticket: Any,
    *,
    organisation_id: int,
    organisation_name: str,
    service_name: str,
    caller: SharedCaller,
    what_next: str | None,
) -> dict[str, Any]:
    """Pure. The Task carries its ServiceRequest, Patient and Consent as contained resources, so
    one read is the whole handover and no other endpoint has to hand out a caller's details."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "caller"}
    if caller.name:
        patient["name"] = [{"text": caller.name}]
    if caller.contact_number:
        patient["telecom"] = [{"system": "phone", "value": caller.contact_number, "use": "mobile"}]
    request = {
        "resourceType": "ServiceRequest",
        "id": "request",
        "status": REQUEST_STATUS[ticket.status],
        "intent": "order",
        "priority": "urgent" if ticket.urgent else "routine",
        "code": {"text": f"Warm transfer to {service_name}"},
        "category": [{"text": need} for need in ticket.needs],
        "subject": {"reference": "#caller"},
        "authoredOn": _instant(ticket.created_at),
        "supportingInfo": [{"reference": "#consent", "display": "What the caller agreed to share"}],
    }
    business = {"coding": [{"system": STATE_SYSTEM, "code": ticket.status}], "text": ticket.status}
    if ticket.handover_at is not None and ticket.status in ("in-progress", "completed"):
        business["text"] = f"{ticket.status}: handover confirmed"
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(ticket.id),
        "meta": {"versionId": str(ticket.version), "lastUpdated": _instant(ticket.updated_at)},
        "contained": [
            request,
            patient,
            consent_of(ticket, organisation_id=organisation_id, organisation_name=organisation_name),
        ],
        "status": TASK_STATUS[ticket.status],
        "businessStatus": business,
        "intent": "order",
        "priority": "urgent" if ticket.urgent else "routine",
        "description": f"Warm transfer to {service_name}",
        "focus": {"reference": "#request"},
        "for": {"reference": "#caller"},
        "authoredOn": _instant(ticket.created_at),
        "lastModified": _instant(ticket.updated_at),
        "owner": {"reference": f"Organization/{organisation_id}", "display": organisation_name},
        "restriction": {"period": {"end": _instant(ticket.contact_by)}},
    }
    coded = [{"system": OUTCOME_SYSTEM, "code": ticket.outcome_code}] if ticket.outcome_code else []
    if ticket.status_reason or what_next:
        task["statusReason"] = {"text": what_next or ticket.status_reason}
        if ticket.status != "completed" and coded:
            task["statusReason"]["coding"] = coded
    if ticket.outcome and ticket.status == "completed":
        output_type = {"text": "outcome", **({"coding": coded} if coded else {})}
        task["output"] = [{"type": output_type, "valueString": ticket.outcome}]
    return checked(Task, task)


def searchset(
    tasks: list[dict[str, Any]], *, total: int, base: str, self_url: str, next_url: str | None
) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return checked(
        Bundle,
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": [{"fullUrl": f"{base}/Task/{t['id']}", "resource": t, "search": {"mode": "match"}} for t in tasks],
        },
    )


# The next page starts after the last Task of this one, in the search's own order (last change,
# then id): a cursor, not an offset, so a Task that changes while a case system pages moves to the
# end (it is seen again, later) and nothing shifts under the pages still to come.
PAGE_TOKEN = "_page_token"


def page_token(moment: datetime, ticket_id: int) -> str:
    """Pure. Opaque to clients; the instant and id of the last Task on a page."""
    raw = f"{_instant(moment)}|{ticket_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_page_token(token: str) -> tuple[datetime, int]:
    """Pure. A token from a next link; anything else is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, _, ticket_id = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not ticket_id.isdigit() or len(ticket_id) > 10:
            raise ValueError(raw)
        return parsed.astimezone(UTC), int(ticket_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(f"{PAGE_TOKEN}: not a token from a next link; search again", error="invalid") from None


ETAG = re.compile(r'^(?:W/)?"(\d{1,10})"$')


def etag(version: int) -> str:
    """The ETag FHIR servers give a version: weak, the versionId in quotes."""
    return f'W/"{version}"'


def parse_if_match(value: str) -> int:
    """Pure. ``W/"3"`` (or ``"3"``) → 3; anything else is a 400."""
    found = ETAG.match(value.strip())
    if found is None:
        raise BadRequest('If-Match: the ETag of the Task as read, e.g. W/"3"', error="invalid")
    return int(found.group(1))


def capability_statement(*, now: datetime, base: str) -> dict[str, Any]:
    return checked(
        CapabilityStatement,
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": _instant(now),
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": [FHIR_JSON],
            "implementation": {"description": "Openline warm-transfer tickets as Tasks", "url": base},
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "A partner's API key (Authorization: Bearer) or a signed-in partner; "
                        "only your own organisation's Tasks"
                    },
                    "resource": [
                        {
                            "type": "Task",
                            # Reads carry meta.versionId and an ETag; a PATCH may send If-Match.
                            "versioning": "versioned-update",
                            "interaction": [
                                {"code": "read"},
                                {"code": "search-type"},
                                {
                                    "code": "patch",
                                    "documentation": "JSON Patch of /status (with /statusReason, text and "
                                    "coded outcome, to reject or give up; /output, coded, to complete), as "
                                    "the ticket state table allows; If-Match with the ETag read is honoured (412 once "
                                    "the Task has changed)",
                                },
                            ],
                            "searchParam": [
                                {"name": name, "type": kind, "documentation": doc} for name, kind, doc in SEARCH_PARAMS
                            ],
                        }
                    ],
                }
            ],
        },
    )


def operation_outcome(code: str, diagnostics: str) -> dict[str, Any]:
    return checked(
        OperationOutcome,
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        },
    )


def checked(model: type, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as ``fhir.resources`` reads it back: a broken one fails here, never at a partner."""
    return model.model_validate(resource).model_dump(mode="json", exclude_none=True)


def parse_last_updated(value: str) -> tuple[str, datetime]:
    """Pure. ``ge2026-12-01T10:00:00Z`` → ("ge", that instant); only ge and gt make sense for
    polling a queue."""
    prefix, rest = value[:2], value[2:]
    if prefix not in ("ge", "gt"):
        raise BadRequest("_lastUpdated takes ge or gt, e.g. ge2026-12-01T00:00:00Z", error="invalid")
    try:
        moment = datetime.fromisoformat(rest.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"_lastUpdated: {rest!r} is not an instant", error="invalid") from None
    if moment.tzinfo is None:
        raise BadRequest("_lastUpdated needs a time zone, e.g. Z", error="invalid")
    return prefix, moment.astimezone(UTC)


def parse_owner(value: str) -> int:
    """Pure. ``Organization/12`` or ``12``."""
    raw = value.removeprefix("Organization/")
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise BadRequest("owner is Organization/{id}", error="invalid")
    return int(raw)


def parse_statuses(value: str) -> list[str]:
    codes = [code.strip() for code in value.split(",") if code.strip()]
    unknown = [code for code in codes if code not in TASK_STATUS]
    if unknown or not codes:
        raise BadRequest(f"status: unknown code {', '.join(unknown) or value!r}", error="invalid")
    return codes


def moves_to(current: str, target: str) -> TicketAction:
    """Pure. The partner's action that takes a ticket from ``current`` to Task.status ``target``
    (the state table's own pairs); a move it does not allow is a 409 naming the current state."""
    for (state, action), after in TRANSITIONS.items():
        if state == current and after == target and action in PARTNER_ACTIONS:
            return action
    reachable = sorted(
        {after for (state, action), after in TRANSITIONS.items() if state == current and action in PARTNER_ACTIONS}
    )
    raise TicketStateError(
        f"the Task is {current}: it cannot move to {target} "
        f"(it can move to: {', '.join(reachable) or 'nothing, it is closed'})",
        state=current,
        allowed=list(reachable),
    )


@dataclass(frozen=True)
class TaskChange:
    """What a JSON Patch of a Task asks for."""

    status: str
    reason: str | None
    outcome: str | None
    outcome_code: str | None = None


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise BadRequest(f"{path}: a text of 1 to 1000 characters", error="invalid")
    return value.strip()


def _code(concept: Any, path: str) -> str | None:
    """The outcome code in a CodeableConcept's coding, if it carries one."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if codings is None:
        return None
    if not isinstance(codings, list) or not codings or not isinstance(codings[0], dict):
        raise BadRequest(f"{path}: a list of codings, the first with a code", error="invalid")
    code = codings[0].get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        raise BadRequest(f"{path}/0/code: an outcome code", error="invalid")
    return code


def read_patch(operations: list[dict[str, Any]]) -> TaskChange:
    """Pure. ``[{"op": "replace", "path": "/status", "value": "rejected"}, {"op": "add", "path":
    "/statusReason/text", "value": "at capacity"}]``: only these paths, and /status always."""
    if len(operations) > len(PATCHABLE):
        raise BadRequest(f"at most {len(PATCHABLE)} operations", error="invalid")
    found: dict[str, Any] = {}
    for operation in operations:
        if operation.get("op") not in ("replace", "add"):
            raise BadRequest("only replace and add operations are taken", error="invalid")
        if operation.get("path") not in PATCHABLE:
            raise BadRequest(f"only these paths may be patched: {', '.join(PATCHABLE)}", error="invalid")
        found[operation["path"]] = operation.get("value")
    if "/status" not in found:
        raise BadRequest("a Task patch moves /status", error="invalid")
    status = found["/status"]
    if status not in TASK_STATUS.values():
        raise BadRequest(f"/status: {str(status)[:40]!r} is not a Task.status this server uses", error="invalid")
    reason = found.get("/statusReason/text")
    code = None
    if isinstance(found.get("/statusReason"), dict):
        reason = found["/statusReason"].get("text")
        code = _code(found["/statusReason"], "/statusReason/coding")
    elif "/statusReason" in found:
        raise BadRequest("/statusReason: a CodeableConcept with text", error="invalid")
    outcome = None
    if "/output" in found:
        output = found["/output"]
        if not isinstance(output, list) or not output or not isinstance(output[0], dict):
            raise BadRequest("/output: a list of outputs, the first with valueString", error="invalid")
        outcome = _text(output[0].get("valueString"), "/output/0/valueString")
        code = _code(output[0].get("type"), "/output/0/type/coding") or code
    return TaskChange(
        status=status,
        reason=_text(reason, "/statusReason/text") if reason is not None else None,
        outcome=outcome,
        outcome_code=code,
    )
