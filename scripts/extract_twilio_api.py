"""Extract the few Twilio REST operations Openline uses from Twilio's published API definition.

Usage: python scripts/extract_twilio_api.py PATH/TO/twilio_api_v2010.json [OUT]

The definition (OpenAPI 3, ``twilio-oai``) ships in the npm package ``@twilio-alpha/mcp`` as
``twilio-oai/spec/json/twilio_api_v2010.json``; install it into a temporary folder
(``npm install --no-save --prefix /tmp/oai @twilio-alpha/mcp@0.7.0``). The whole file is 2 MB;
the simulator needs only each operation's path-parameter patterns and form or query fields
(type, format, enum, required), so that is all the extract keeps. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

PACKAGE = "@twilio-alpha/mcp"
FILE_IN_PACKAGE = "twilio-oai/spec/json/twilio_api_v2010.json"
ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "telephony" / "simulator" / "twilio_api_v2010.json"

# (path under the account, method): the operations Openline makes, or will make to reconcile.
OPERATIONS = (
    ("/Calls.json", "post"),
    ("/Calls/{Sid}.json", "get"),
    ("/Calls/{Sid}.json", "post"),
    ("/Conferences.json", "get"),
    ("/Conferences/{Sid}.json", "get"),
    ("/Conferences/{Sid}.json", "post"),
    ("/Conferences/{ConferenceSid}/Participants.json", "post"),
    ("/Conferences/{ConferenceSid}/Participants.json", "get"),
    ("/Conferences/{ConferenceSid}/Participants/{CallSid}.json", "get"),
    ("/Conferences/{ConferenceSid}/Participants/{CallSid}.json", "post"),
    ("/Conferences/{ConferenceSid}/Participants/{CallSid}.json", "delete"),
    ("/Messages.json", "post"),
    ("/Recordings/{Sid}.json", "get"),
    ("/Recordings/{Sid}.mp3", "get"),  # kept only if the definition has it
)
KEPT = ("type", "format", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum")
# Enums of the resources the simulator answers with and the callbacks it sends.
ENUMS = (
    "call_enum_status",
    "conference_enum_status",
    "conference_enum_reason_conference_ended",
    "participant_enum_status",
)
# An array field whose items the definition lists only in its prose: "Can be: `start`, `end` ...".
CAN_BE = re.compile(r"Can be: (.*?)\.(?:\s|$)")


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A field's schema with ``$ref`` enums inlined and descriptions dropped."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    kept = {key: schema[key] for key in KEPT if key in schema}
    if "items" in schema:
        kept["items"] = resolve(schema["items"], components)
        listed = CAN_BE.search(schema.get("description", ""))
        if listed and "enum" not in kept["items"]:
            kept["items"]["x-documented-values"] = re.findall(r"`([^`]+)`", listed.group(1))
    return kept


def extract_operation(operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"operation_id": operation["operationId"], "path_params": {}, "query": {}, "form": {}}
    for parameter in operation.get("parameters", []):
        field = resolve(parameter["schema"], components)
        if parameter.get("required"):
            field["required"] = True
        out["path_params" if parameter["in"] == "path" else parameter["in"]][parameter["name"]] = field
    body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    if body:
        schema = body["schema"]
        required = set(schema.get("required", ()))
        for name, field_schema in schema["properties"].items():
            field = resolve(field_schema, components)
            if name in required:
                field["required"] = True
            out["form"][name] = field
    return {key: value for key, value in out.items() if value or key == "operation_id"}


def extract(definition: dict[str, Any]) -> dict[str, Any]:
    components = definition["components"]["schemas"]
    info = definition["info"]
    operations: dict[str, Any] = {}
    missing: list[str] = []
    for path, method in OPERATIONS:
        item = definition["paths"].get(ACCOUNT + path, {})
        if method not in item:
            missing.append(f"{method.upper()} {path}")
            continue
        operation = extract_operation(item[method], components)
        operations[operation.pop("operation_id")] = {"method": method.upper(), "url": ACCOUNT + path, **operation}
    return {
        "source": {
            "package": PACKAGE,
            "file": FILE_IN_PACKAGE,
            "title": info["title"],
            "definition_version": info["version"],
            "openapi": definition["openapi"],
            "licence": f"{info['license']['name']} ({info['license']['url']}), as the definition states",
            "not_in_definition": missing,
        },
        "operations": operations,
        "enums": {name: components[name]["enum"] for name in ENUMS},
    }


def package_version(definition_path: Path) -> str | None:
    """The npm package's version, from its package.json (the folder above ``twilio-oai``)."""
    for folder in definition_path.resolve().parents:
        manifest = folder / "package.json"
        if manifest.exists():
            data = json.loads(manifest.read_text())
            if data.get("name") == PACKAGE:
                return f"{data['version']} (package licence: {data.get('license', 'unstated')})"
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else DEFAULT_OUT
    extract_ = extract(json.loads(source.read_text()))
    extract_["source"]["package_version"] = package_version(source)
    out.write_text(json.dumps(extract_, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(extract_['operations'])} operations to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
