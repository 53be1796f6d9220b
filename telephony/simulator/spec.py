"""Twilio's published API definition (the extract in ``twilio_api_v2010.json``, made by
``scripts/extract_twilio_api.py``) and the checks every REST request to the simulator passes
before it acts: path parameters against their patterns, known fields only, required fields,
enums, booleans and integers. Refusals are Twilio's error shape ``{code, message, more_info, status}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EXTRACT = Path(__file__).with_name("twilio_api_v2010.json")
BAD_REQUEST = 400  # Twilio's generic "Bad Request" code: a parameter did not pass validation
NOT_FOUND = 20404

# Twilio's own codes for a missing required parameter, per resource.
MISSING_CODES = {
    ("CreateCall", "To"): (21201, "No 'To' number is specified"),
    ("CreateCall", "From"): (21213, "'From' phone number is required"),
    ("CreateParticipant", "To"): (21201, "No 'To' number is specified"),
    ("CreateParticipant", "From"): (21213, "'From' phone number is required"),
    ("CreateMessage", "To"): (21604, "A 'To' phone number is required."),
}


class TwilioError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
        }


def not_found(path: str) -> TwilioError:
    return TwilioError(404, NOT_FOUND, f"The requested resource {path} was not found")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    path_params: Mapping[str, Any]
    query: Mapping[str, Any]
    form: Mapping[str, Any]


@cache
def definition() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text())


@cache
def operations() -> dict[str, Operation]:
    return {
        op_id: Operation(
            op_id, op["method"], op["url"], op.get("path_params", {}), op.get("query", {}), op.get("form", {})
        )
        for op_id, op in definition()["operations"].items()
    }


def enum(name: str) -> list[str]:
    return definition()["enums"][name]


class Fields:
    """The multi-valued fields of a form or query string (``getlist`` as Starlette has it)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self.values: dict[str, list[str]] = {}
        for key, value in pairs:
            self.values.setdefault(key, []).append(value)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, [default])[0]

    def getlist(self, name: str) -> list[str]:
        return list(self.values.get(name, []))

    def flag(self, name: str, default: bool) -> bool:
        """A validated boolean field (only ``true``/``false`` get this far)."""
        value = self.get(name)
        return default if value is None else value == "true"


def validate(operation: Operation, path: str, path_params: Mapping[str, str], query: Fields, form: Fields) -> None:
    """Refuse, as Twilio would, a request the definition does not allow."""
    for name, schema in operation.path_params.items():
        if not _matches(path_params.get(name, ""), schema):
            raise not_found(path)  # no route of Twilio's matches such a path
    for where, fields, schema in (("query", query, operation.query), ("form", form, operation.form)):
        for name in fields.values:
            if name not in schema:
                raise TwilioError(
                    400, BAD_REQUEST, f"Unknown parameter {name} in the {where} of {operation.operation_id}"
                )
        for name, field in schema.items():
            values = fields.getlist(name)
            if not values or values == [""]:
                if field.get("required"):
                    code, message = MISSING_CODES.get(
                        (operation.operation_id, name), (BAD_REQUEST, f"Missing required parameter {name}")
                    )
                    raise TwilioError(400, code, message)
                continue
            _check_field(name, field, values)


def _check_field(name: str, field: Mapping[str, Any], values: Sequence[str]) -> None:
    if field.get("type") == "array":
        items = field.get("items", {})
        allowed = items.get("enum") or items.get("x-documented-values")
        # One value may hold several separated by spaces ("start end"), as Twilio documents.
        for item in (part for value in values for part in value.split()):
            if allowed and item not in allowed:
                raise _invalid(name, f"must be one of {', '.join(allowed)}")
        return
    if len(values) > 1:
        raise _invalid(name, "is given more than once")
    value = values[0]
    kind = field.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        raise _invalid(name, "must be true or false")
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            raise _invalid(name, "must be an integer")
        if not field.get("minimum", -(2**63)) <= int(value) <= field.get("maximum", 2**63):
            raise _invalid(name, "is out of range")
    if "enum" in field and value not in field["enum"]:
        raise _invalid(name, f"must be one of {', '.join(field['enum'])}")
    if kind == "string" and not _matches(value, field):
        raise _invalid(name, "does not match its pattern")
    if field.get("format") == "uri" and not _absolute_url(value):
        raise _invalid(name, "must be an absolute http(s) URL")


def _matches(value: str, schema: Mapping[str, Any]) -> bool:
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 1 << 30):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def _absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _invalid(name: str, why: str) -> TwilioError:
    # The value is not echoed: a field may be a caller's number.
    return TwilioError(400, BAD_REQUEST, f"Invalid parameter {name}: {why}")
