"""SCIM 2.0 (RFC 7643, RFC 7644): people and groups as an identity provider sees them.

An identity provider (Entra ID, Okta …) provisions the directory through `/scim/v2`. This module
is everything SCIM except HTTP and the effects on running work: the discovery documents, the
mapping between SCIM resources and the directory, filters, PATCH, `attributes`, and the writes.

Users are the people who have a login: the SCIM `id` is the person's id, `userName` the login's
username (a login made by SCIM has no password: people sign in through the identity provider).
`externalId` is Person.external_id, `displayName` / `name` the person's name, the primary email
their email, `title` their title, `active` whether they are active (false makes a leaver); the
enterprise extension's `employeeNumber` is the person's key, `department` their org unit (by
name, created when new, as the org import creates units) and `manager.value` their manager's
SCIM id; Sightline's extension's `position` their position (the code of a position profile;
an unknown or retired one is refused, and a request without the extension leaves it as it
is). A user is written through the org import's own rows (engine.people.org_import
`import_rows`): the same checks and the same writes as `sightline org import`. What SCIM
says that the directory has no column for (given and family name, the list of emails with
their types, when SCIM made and last changed the user) is kept in the person's `scim`
attribute, so the identity provider reads back what it wrote; when the directory moved on
since (an org import renamed the person), the directory wins.

SCIM owns what it maps: a PUT (or a PATCH that removes an attribute) without `department` or
`manager` takes the person out of their unit or away from their manager.

Groups are DirectoryGroup rows; their members are the GroupMembership rows of the group's name
in lower case, so a SCIM group "HR" is the `hr` group lanes and rights know.

Deleting a user makes them a leaver and removes their login (the person stays, with their
history). Callers re-route the leavers' open tasks (engine.workflow.provisioning does).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.errors import EngineError
from engine.base.models import DirectoryGroup, GroupMembership, OrgUnit, Person, User
from engine.people import org_import
from engine.people.directory import bump_directory_version

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Sightline's own extension of a User: the person's position (a position profile's code).
SIGHTLINE = "urn:sightline:params:scim:schemas:extension:sightline:2.0:User"
EXTENSIONS = (ENTERPRISE, SIGHTLINE)
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 200
# The person attribute holding what SCIM said that has no column of its own.
EXTRAS = "scim"
ORG_COLUMNS = [
    "employee_id", "name", "email", "title", "org_unit_code", "org_unit_name", "manager_id",
    "active", "external_id",
]


class ScimError(EngineError):
    """A request SCIM refuses: the HTTP status, the RFC 7644 `scimType` and a clear detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        """The SCIM error resource."""
        out: dict[str, Any] = {"schemas": [ERROR], "status": str(self.status),
                               "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


def _invalid(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def _not_found(kind: str, resource_id: str) -> ScimError:
    return ScimError(404, f"{kind} {resource_id!r} not found")


# -- discovery ---------------------------------------------------------------------------------


def _attr(
    name: str,
    kind: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    returned: str = "default",
    sub: list[dict[str, Any]] | None = None,
    description: str = "",
    reference_types: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name, "type": kind, "multiValued": multi, "description": description or name,
        "required": required, "caseExact": case_exact, "mutability": mutability,
        "returned": returned, "uniqueness": uniqueness,
    }
    if sub is not None:
        out["subAttributes"] = sub
    if reference_types is not None:
        out["referenceTypes"] = reference_types
    return out


def _user_attributes() -> list[dict[str, Any]]:
    return [
        _attr("userName", required=True, uniqueness="server",
              description="The login's username, unique across logins"),
        _attr("name", "complex", sub=[
            _attr("formatted"), _attr("familyName"), _attr("givenName"),
        ], description="The person's name"),
        _attr("displayName", description="The name the directory shows"),
        _attr("title", description="Job title"),
        _attr("active", "boolean", description="False makes the person a leaver"),
        _attr("emails", "complex", multi=True, sub=[
            _attr("value"), _attr("type"), _attr("primary", "boolean"),
        ], description="The primary (or first) one is the person's email"),
        _attr("groups", "complex", multi=True, mutability="readOnly", sub=[
            _attr("value", mutability="readOnly"),
            _attr("$ref", "reference", mutability="readOnly", reference_types=["Group"]),
            _attr("display", mutability="readOnly"),
        ], description="The groups the person belongs to (change them through Groups)"),
    ]


def _enterprise_attributes() -> list[dict[str, Any]]:
    return [
        _attr("employeeNumber", description="The person's key in the directory (lanes use it)"),
        _attr("department", description="The person's org unit, by name"),
        _attr("manager", "complex", sub=[
            _attr("value", description="The manager's SCIM id"),
            _attr("$ref", "reference", reference_types=["User"],
                  description="The manager's User URL"),
        ], description="The person's line manager"),
    ]


def _sightline_attributes(positions: Sequence[str]) -> list[dict[str, Any]]:
    position = _attr("position", case_exact=True, description=(
        "The code of the person's position (a position profile HR keeps); gap analysis "
        "measures them against it"))
    if positions:
        position["canonicalValues"] = list(positions)
    return [position]


def _group_attributes() -> list[dict[str, Any]]:
    return [
        _attr("displayName", required=True, uniqueness="server",
              description="The group's name; its lower case is the group lanes name"),
        _attr("members", "complex", multi=True, sub=[
            _attr("value", mutability="immutable", description="A member's SCIM User id"),
            _attr("$ref", "reference", mutability="immutable", reference_types=["User"],
                  description="A member's User URL"),
        ], description="The people in the group"),
    ]


def schemas(base: str, positions: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The Schema resources this server publishes (what it actually stores, nothing more);
    `positions` are the codes a position may take now (its canonical values)."""
    found = [
        (USER, "User", "A person with a login", _user_attributes()),
        (ENTERPRISE, "EnterpriseUser", "Key, org unit and manager", _enterprise_attributes()),
        (SIGHTLINE, "SightlineUser", "The person's position", _sightline_attributes(positions)),
        (GROUP, "Group", "A named group of people", _group_attributes()),
    ]
    return [
        {
            "schemas": [SCHEMA], "id": urn, "name": name, "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
        }
        for urn, name, description, attributes in found
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    """The ResourceType resources: Users (with the enterprise extension) and Groups."""
    return [
        {
            "schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "People with a login", "schema": USER,
            "schemaExtensions": [{"schema": urn, "required": False} for urn in EXTENSIONS],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Groups of people", "schema": GROUP, "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def service_provider_config(base: str, documentation: str = "") -> dict[str, Any]:
    """What this server supports: PATCH, filters, ETags; no bulk, sorting or password change."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": documentation or None,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token",
            "description": "A token with the scim scope: sightline token create --scope scim",
            "primary": True,
        }],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base}/ServiceProviderConfig"},
    }


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    """A ListResponse page."""
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(resources), "Resources": resources}


# -- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One `attribute op value` of a filter (several are joined by `and`)."""

    attribute: str
    op: str
    value: Any = None


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()"]+)|(?P<paren>[()]))'
)
_OPS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"}


def parse_filter(text: str) -> list[Comparison]:
    """`attr eq "value"` comparisons joined by `and` (and `attr pr`); invalidFilter otherwise."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ScimError(400, f"cannot read the filter at {text[position:]!r}", "invalidFilter")
        kind = match.lastgroup or "word"
        tokens.append((kind, match.group(kind)))
        position = match.end()
    found: list[Comparison] = []
    index = 0
    while index < len(tokens):
        kind, word = tokens[index]
        if kind != "word" or index + 1 >= len(tokens):
            raise ScimError(400, f"filter {text!r}: expected an attribute and an operator",
                            "invalidFilter")
        op = tokens[index + 1][1].lower()
        if op not in _OPS:
            raise ScimError(400, f"filter {text!r}: unknown operator {op!r}", "invalidFilter")
        if op == "pr":
            found.append(Comparison(word, op))
            index += 2
        else:
            if index + 2 >= len(tokens):
                raise ScimError(400, f"filter {text!r}: {word} {op} needs a value",
                                "invalidFilter")
            found.append(Comparison(word, op, _filter_value(tokens[index + 2], text)))
            index += 3
        if index < len(tokens):
            if tokens[index][1].lower() != "and":
                raise ScimError(400, f"filter {text!r}: only 'and' joins comparisons here",
                                "invalidFilter")
            index += 1
            if index >= len(tokens):
                raise ScimError(400, f"filter {text!r}: nothing after 'and'", "invalidFilter")
    if not found:
        raise ScimError(400, "the filter is empty", "invalidFilter")
    return found


def _filter_value(token: tuple[str, str], text: str) -> Any:
    kind, word = token
    if kind == "string":
        return json.loads(word)
    lowered = word.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return json.loads(word)
    except ValueError:
        raise ScimError(400, f"filter {text!r}: {word!r} is not a value (quote strings)",
                        "invalidFilter") from None


def _short(attribute: str, schema: str) -> str:
    """A filter or PATCH path without its schema URN, lower-cased (attribute names are not
    case sensitive)."""
    lowered = attribute.lower()
    for urn in (schema, *EXTENSIONS):
        if lowered.startswith(urn.lower() + ":"):
            return lowered[len(urn) + 1:]
    return lowered


_USER_FILTERS = {
    "id": "person_id",
    "username": "username__iexact",
    "externalid": "person__external_id",
    "emails": "person__email__iexact",
    "emails.value": "person__email__iexact",
    "displayname": "person__name",
    "active": "person__active",
    "employeenumber": "person__key",
}
_GROUP_FILTERS = {"id": "id", "displayname": "name__iexact", "externalid": "external_id"}


def _query(comparisons: Iterable[Comparison], mapping: dict[str, str], schema: str) -> Q:
    query = Q()
    for comparison in comparisons:
        name = _short(comparison.attribute, schema)
        target = mapping.get(name)
        if target is None:
            raise ScimError(400, f"cannot filter on {comparison.attribute!r}: filter on "
                            + ", ".join(sorted(mapping)), "invalidFilter")
        if comparison.op == "pr":
            column = target.split("__i")[0]
            present: dict[str, Any] = {f"{column}__isnull": False}
            query &= Q(**present)
            if name not in ("active", "id"):
                blank: dict[str, Any] = {column: ""}
                query &= ~Q(**blank)
            continue
        if comparison.op != "eq":
            raise ScimError(400, f"only eq and pr are supported, not {comparison.op!r}",
                            "invalidFilter")
        value = comparison.value
        if name == "active":
            if not isinstance(value, bool):
                raise ScimError(400, "active eq takes true or false", "invalidFilter")
        elif name == "id":
            value = _int_id(value)
            if value is None:
                return Q(pk__in=[])
        elif not isinstance(value, str):
            raise ScimError(400, f"{comparison.attribute} eq takes a quoted string",
                            "invalidFilter")
        wanted: dict[str, Any] = {target: value}
        query &= Q(**wanted)
    return query


def _int_id(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) <= 9 else None


# -- attributes= and excludedAttributes= -------------------------------------------------------

_ALWAYS = {"id", "schemas"}


def project(resource: dict[str, Any], attributes: str = "", excluded: str = "") -> dict[str, Any]:
    """The resource cut down to `attributes` (or without `excludedAttributes`), as RFC 7644
    3.4.2.5 says; `id` and `schemas` always stay."""
    if not attributes and not excluded:
        return resource
    schema = resource["schemas"][0]

    def paths(text: str) -> list[list[str]]:
        out = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            lowered = item.lower()
            urn = next((u for u in EXTENSIONS
                        if lowered == u.lower() or lowered.startswith(u.lower() + ":")), None)
            if urn is not None and lowered == urn.lower():
                out.append([urn])
            elif urn is not None:
                out.append([urn, *item[len(urn) + 1:].split(".")])
            elif lowered.startswith(schema.lower() + ":"):
                out.append(item[len(schema) + 1:].split("."))
            else:
                out.append(item.split("."))
        return out

    def find(node: dict[str, Any], name: str) -> str | None:
        return next((k for k in node if k.lower() == name.lower()), None)

    if attributes:
        kept: dict[str, Any] = {k: v for k, v in resource.items() if k in _ALWAYS}
        for path in paths(attributes):
            key = find(resource, path[0])
            if key is None:
                continue
            value = resource[key]
            if len(path) == 1 or not isinstance(value, dict | list):
                kept[key] = value
                continue
            sub = path[1]
            if isinstance(value, list):
                picked = [
                    {k: v for k, v in item.items() if k.lower() == sub.lower()}
                    for item in value if isinstance(item, dict)
                ]
                kept[key] = [item for item in picked if item]
            else:
                into = kept.setdefault(key, {})
                inner = find(value, sub)
                if inner is not None:
                    into[inner] = value[inner]
        return kept
    out = copy.deepcopy(resource)
    for path in paths(excluded):
        key = find(out, path[0])
        if key is None or key in _ALWAYS:
            continue
        if len(path) == 1:
            del out[key]
        elif isinstance(out[key], dict):
            inner = find(out[key], path[1])
            if inner is not None:
                del out[key][inner]
    return out


# -- PATCH -------------------------------------------------------------------------------------

_VALUE_FILTER = re.compile(r"^(?P<attr>[^\[]+)\[(?P<filter>[^\]]+)\](?:\.(?P<sub>.+))?$")


def apply_patch(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """The resource after a PatchOp's operations (RFC 7644 3.5.2), as a new dict; the caller
    then writes it as a PUT would, so one set of checks guards both."""
    if not isinstance(body, dict) or PATCH_OP not in (body.get("schemas") or []):
        raise _invalid(f"a PATCH body is a PatchOp ({PATCH_OP})")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise _invalid("a PatchOp needs a list of Operations")
    out = copy.deepcopy(resource)
    schema = out["schemas"][0]
    for operation in operations:
        if not isinstance(operation, dict):
            raise _invalid("each operation is an object with op, path and value")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise _invalid(f"unknown PATCH op {operation.get('op')!r}: add, replace or remove")
        path = operation.get("path")
        value = operation.get("value")
        if path is None or path == "":
            if op == "remove":
                raise ScimError(400, "remove needs a path", "noTarget")
            if not isinstance(value, dict):
                raise _invalid(f"{op} without a path takes an object of attributes")
            for name, item in value.items():
                _patch_path(out, op, name, item, schema)
            continue
        if not isinstance(path, str):
            raise ScimError(400, "a PATCH path is text", "invalidPath")
        _patch_path(out, op, path, value, schema)
    return out


def _container(resource: dict[str, Any], path: str, schema: str) -> tuple[dict[str, Any], str]:
    """The object a path's last attribute lives in (the extension's, for its URN) and that
    attribute's name."""
    for urn in EXTENSIONS:
        if path.lower().startswith(urn.lower()):
            rest = path[len(urn):].lstrip(":")
            node = resource.setdefault(urn, {})
            if not rest:
                return resource, urn
            return node, rest
    if path.lower().startswith(schema.lower() + ":"):
        path = path[len(schema) + 1:]
    return resource, path


def _key(node: dict[str, Any], name: str) -> str:
    return next((k for k in node if k.lower() == name.lower()), name)


def _patch_path(
    resource: dict[str, Any], op: str, path: str, value: Any, schema: str
) -> None:
    whole = next((urn for urn in EXTENSIONS if path.lower() == urn.lower()), None)
    if whole is not None:  # the whole extension (its URN has dots in it)
        if op == "remove" and whole == SIGHTLINE:
            # Present and empty: the position is removed (absent would leave it alone).
            resource[whole] = {}
        elif op == "remove":
            resource.pop(whole, None)
        elif not isinstance(value, dict):
            raise _invalid(f"{whole} takes an object")
        elif op == "replace":
            resource[whole] = value
        else:
            resource.setdefault(whole, {}).update(value)
        return
    node, rest = _container(resource, path, schema)
    match = _VALUE_FILTER.match(rest)
    if match:
        key = _key(node, match.group("attr"))
        items = node.get(key)
        comparisons = parse_filter(match.group("filter"))
        chosen = [
            item for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and all(_matches(item, c) for c in comparisons)
        ]
        if not chosen:
            if op == "remove":
                return
            raise ScimError(400, f"no {match.group('attr')} matches {match.group('filter')!r}",
                            "noTarget")
        sub = match.group("sub")
        for item in chosen:
            if sub is None:
                if op == "remove" and isinstance(items, list):
                    items.remove(item)
                elif isinstance(value, dict):
                    item.update(value)
                else:
                    raise _invalid(f"{path} takes an object")
            elif op == "remove":
                item.pop(_key(item, sub), None)
            else:
                item[_key(item, sub)] = value
        return
    parts = rest.split(".")
    if len(parts) == 2:
        key = _key(node, parts[0])
        inner = node.get(key)
        if op == "remove":
            if isinstance(inner, dict):
                inner.pop(_key(inner, parts[1]), None)
            return
        if not isinstance(inner, dict):
            inner = node[key] = {}
        inner[_key(inner, parts[1])] = value
        return
    if len(parts) > 2:
        raise ScimError(400, f"cannot follow the path {path!r}", "invalidPath")
    _set(node, op, rest, value)


def _set(node: dict[str, Any], op: str, name: str, value: Any) -> None:
    key = _key(node, name)
    if op == "remove":
        node.pop(key, None)
        return
    current = node.get(key)
    if op == "add" and isinstance(current, list):
        added = value if isinstance(value, list) else [value]
        node[key] = current + [v for v in added if v not in current]
    elif op == "add" and isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
    else:
        node[key] = value


def _matches(item: dict[str, Any], comparison: Comparison) -> bool:
    actual = item.get(_key(item, comparison.attribute))
    if comparison.op == "pr":
        return actual not in (None, "", [])
    if comparison.op != "eq":
        raise ScimError(400, "value filters in a path support eq and pr", "invalidFilter")
    if isinstance(actual, str) and isinstance(comparison.value, str):
        return actual.lower() == comparison.value.lower()
    return bool(str(actual) == str(comparison.value))


# -- users -------------------------------------------------------------------------------------


@dataclass
class Written:
    """A resource after a write, and who the write made a leaver."""

    resource: dict[str, Any]
    leavers: list[int] = field(default_factory=list)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def version_of(resource: dict[str, Any]) -> str:
    """A weak ETag over what the resource says (its meta aside)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def _with_meta(resource: dict[str, Any], kind: str, location: str,
               created: str | None, modified: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceType": kind, "location": location}
    if created:
        meta["created"] = created
    if modified:
        meta["lastModified"] = modified
    meta["version"] = version_of(resource)
    resource["meta"] = meta
    return resource


def _formatted(name: dict[str, Any]) -> str:
    formatted = name.get("formatted")
    if isinstance(formatted, str) and formatted.strip():
        return formatted.strip()
    parts = [name.get("givenName"), name.get("familyName")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def _user_resource(
    base: str,
    person: dict[str, Any],
    username: str,
    unit_names: dict[int, str],
    groups: list[tuple[int, str]],
) -> dict[str, Any]:
    extras = (person["attributes"] or {}).get(EXTRAS) or {}
    resource: dict[str, Any] = {"schemas": [USER], "id": str(person["id"])}
    if person["external_id"]:
        resource["externalId"] = person["external_id"]
    resource["userName"] = username
    stored_name = extras.get("name") if isinstance(extras.get("name"), dict) else None
    if extras.get("personName") == person["name"]:  # the directory did not rename them since
        if stored_name:
            resource["name"] = stored_name
        if extras.get("displayName"):
            resource["displayName"] = extras["displayName"]
    else:
        resource["displayName"] = person["name"]
        resource["name"] = {"formatted": person["name"]}
    if person["title"]:
        resource["title"] = person["title"]
    if not person["active"] or extras.get("activeGiven", True):
        resource["active"] = bool(person["active"])
    emails = extras.get("emails") if isinstance(extras.get("emails"), list) else None
    if emails and _primary_email(emails) == person["email"]:
        resource["emails"] = emails
    elif person["email"]:
        resource["emails"] = [{"value": person["email"], "primary": True}]
    if groups:
        resource["groups"] = [
            {"value": str(gid), "$ref": f"{base}/Groups/{gid}", "display": name}
            for gid, name in groups
        ]
    enterprise: dict[str, Any] = {}
    if not extras.get("keyGenerated") or extras.get("key") != person["key"]:
        enterprise["employeeNumber"] = person["key"]
    if person["org_unit_id"] is not None and person["org_unit_id"] in unit_names:
        enterprise["department"] = unit_names[person["org_unit_id"]]
    if person["manager_id"] is not None:
        enterprise["manager"] = {
            "value": str(person["manager_id"]), "$ref": f"{base}/Users/{person['manager_id']}"
        }
    # schemas names an extension only when the user has some of it
    resource["schemas"] = [USER]
    if enterprise:
        resource[ENTERPRISE] = enterprise
        resource["schemas"].append(ENTERPRISE)
    if person["position"]:
        resource[SIGHTLINE] = {"position": person["position"]}
        resource["schemas"].append(SIGHTLINE)
    return _with_meta(resource, "User", f"{base}/Users/{person['id']}",
                      extras.get("created"), extras.get("lastModified"))


def _primary_email(emails: list[Any]) -> str:
    values = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]
    primary = next((e for e in values if e.get("primary") is True), values[0] if values else None)
    return str(primary["value"]).strip() if primary else ""


_PERSON_VALUES = ("id", "key", "name", "email", "title", "org_unit_id", "manager_id", "active",
                  "external_id", "attributes", "position")


async def _user_resources(base: str, users: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Users as SCIM resources, from (person id, username) pairs, in that order."""
    if not users:
        return []
    ids = [pid for pid, _ in users]
    people = {p["id"]: p for p in await Person.filter(id__in=ids).values(*_PERSON_VALUES)}
    unit_ids = {p["org_unit_id"] for p in people.values() if p["org_unit_id"] is not None}
    unit_names = dict(await OrgUnit.filter(id__in=list(unit_ids)).values_list("id", "name"))
    memberships: dict[int, set[str]] = {}
    for person_id, group in await GroupMembership.filter(person_id__in=ids).values_list(
        "person_id", "group"
    ):
        memberships.setdefault(person_id, set()).add(group)
    wanted = {g for held in memberships.values() for g in held}
    groups = [
        (gid, name) for gid, name in await DirectoryGroup.all().order_by("id").values_list(
            "id", "name"
        ) if _membership_name(name) in wanted
    ]
    return [
        _user_resource(
            base, people[pid], username, unit_names,
            [(gid, name) for gid, name in groups
             if _membership_name(name) in memberships.get(pid, set())],
        )
        for pid, username in users
        if pid in people
    ]


async def list_users(
    base: str, filter_text: str = "", start: int = 1, count: int | None = None
) -> dict[str, Any]:
    """A page of users, filtered (`userName eq`, `externalId eq`, `emails.value eq`,
    `active eq`, joined by `and`), in id order."""
    query = User.all()
    if filter_text.strip():
        query = query.filter(_query(parse_filter(filter_text), _USER_FILTERS, USER))
    start, count = _page(start, count)
    total = await query.count()
    rows = await query.order_by("person_id").offset(start - 1).limit(count).values_list(
        "person_id", "username"
    )
    return list_response(await _user_resources(base, list(rows)), total, start)


def _page(start: int, count: int | None) -> tuple[int, int]:
    start = max(1, start)
    count = MAX_RESULTS if count is None else max(0, min(count, MAX_RESULTS))
    return start, count


async def _login_of(person_id: str) -> User:
    number = _int_id(person_id)
    row = await User.get_or_none(person_id=number) if number is not None else None
    if row is None:
        raise _not_found("User", person_id)
    return row


async def get_user(base: str, person_id: str) -> dict[str, Any]:
    """One user; 404 when the id names no person with a login."""
    login = await _login_of(person_id)
    return (await _user_resources(base, [(login.person_id, login.username)]))[0]


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{what} must be text")
    text = value.strip()
    if len(text) > limit:
        raise _invalid(f"{what} is longer than {limit} characters")
    return text


def _user_input(body: Any) -> dict[str, Any]:
    """The parts of a User resource the directory keeps, checked; invalidValue otherwise."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object (a User resource)")
    schemas_given = body.get("schemas")
    if not isinstance(schemas_given, list) or USER not in schemas_given:
        raise _invalid(f"a User lists the schema {USER}")
    username = _text(body.get("userName"), "userName", 128)
    if not username:
        raise _invalid("userName is required")
    name = body.get("name")
    if name is not None and not isinstance(name, dict):
        raise _invalid("name must be an object (formatted, givenName, familyName)")
    display = _text(body.get("displayName"), "displayName", 255)
    full = display or (_formatted(name) if name else "") or username
    if len(full) > 255:
        raise _invalid("the name is longer than 255 characters")
    emails = body.get("emails")
    if emails is not None and (
        not isinstance(emails, list)
        or not all(isinstance(e, dict) and isinstance(e.get("value"), str) for e in emails)
    ):
        raise _invalid("emails must be a list of objects with a value")
    email = _primary_email(emails or [])
    if email and (len(email) > 255 or not org_import.EMAIL.match(email)):
        raise _invalid(f"bad email {email!r}")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise _invalid("active must be true or false")
    enterprise = body.get(ENTERPRISE) or {}
    if not isinstance(enterprise, dict):
        raise _invalid(f"{ENTERPRISE} must be an object")
    manager = enterprise.get("manager")
    manager_id: int | None = None
    if isinstance(manager, dict) and manager.get("value") not in (None, ""):
        manager_id = _int_id(manager["value"])
        if manager_id is None:
            raise _invalid(f"manager {manager['value']!r} is not a User id")
    elif manager not in (None, "", {}) and not isinstance(manager, dict):
        raise _invalid("manager must be an object with the manager's id as value")
    sightline = body.get(SIGHTLINE)
    if sightline is not None and not isinstance(sightline, dict):
        raise _invalid(f"{SIGHTLINE} must be an object")
    external = body.get("externalId")
    return {
        "userName": username,
        "name": name,
        "displayName": display,
        "full_name": full,
        "emails": emails,
        "email": email,
        "title": _text(body.get("title"), "title", 255),
        "active": active,
        "active_given": "active" in body,
        "external_id": _text(external, "externalId", 255) or None,
        "key": _text(enterprise.get("employeeNumber"), "employeeNumber", 64),
        "department": _text(enterprise.get("department"), "department", 255),
        "manager_id": manager_id,
        # Only a request that carries Sightline's extension changes the position.
        "position": None if sightline is None else _text(
            sightline.get("position"), "position", 64),
    }


async def _unit_columns(department: str) -> tuple[str, str]:
    """The org_unit_code and org_unit_name columns for a department named by SCIM."""
    if not department:
        return "", ""
    unit = await OrgUnit.filter(name=department).order_by("id").first()
    if unit is not None:
        return unit.code, unit.name
    slug = re.sub(r"[^a-z0-9]+", "-", department.lower()).strip("-")[:40] or "unit"
    code, number = slug, 1
    while await OrgUnit.exists(code=code):
        number += 1
        code = f"{slug}-{number}"
    return code, department


async def _write_user(
    base: str, wanted: dict[str, Any], person: Person | None, login: User | None
) -> Written:
    """Create or replace a user through the org import's rows, in one transaction."""
    now = _stamp(clock.now())
    async with in_transaction():
        clash = await User.filter(username__iexact=wanted["userName"]).first()
        if clash is not None and (login is None or clash.id != login.id):
            raise ScimError(409, f"userName {wanted['userName']!r} is taken", "uniqueness")
        # Without an employeeNumber the person keeps their key (or gets one from their
        # userName), and SCIM does not show it back: the identity provider never said it.
        key = wanted["key"]
        generated = not key
        if not key:
            key = person.key if person is not None else await _new_key(wanted["userName"])
        holder = await Person.get_or_none(key=key)
        if holder is not None and (person is None or holder.id != person.id):
            if person is None and not await User.exists(person_id=holder.id):
                person = holder  # someone the org import made, now given a login
            else:
                raise ScimError(409, f"employeeNumber {key!r} belongs to someone else",
                                "uniqueness")
        if person is not None and person.key != key:
            await Person.filter(id=person.id).update(key=key)
        manager_key = ""
        if wanted["manager_id"] is not None:
            manager = await Person.get_or_none(id=wanted["manager_id"])
            if manager is None:
                raise _invalid(f"manager {wanted['manager_id']} is not in the directory")
            manager_key = key if person is not None and manager.id == person.id else manager.key
        code, unit_name = await _unit_columns(wanted["department"])
        row = [key, wanted["full_name"], wanted["email"], wanted["title"], code, unit_name,
               manager_key, "yes" if wanted["active"] else "no", wanted["external_id"] or ""]
        columns = ORG_COLUMNS
        if wanted["position"] is not None:
            columns, row = [*ORG_COLUMNS, "position"], [*row, wanted["position"]]
        report = await org_import.import_rows(columns, [(1, row)])
        if not report.ok:
            raise _invalid("; ".join(e.split(": ", 1)[-1] for e in report.errors))
        saved = await Person.get(key=key)
        extras = (saved.attributes or {}).get(EXTRAS) or {}
        saved.attributes = {**(saved.attributes or {}), EXTRAS: {
            "name": wanted["name"], "displayName": wanted["displayName"],
            "personName": saved.name, "emails": wanted["emails"],
            "keyGenerated": generated, "key": key, "activeGiven": wanted["active_given"],
            "created": extras.get("created") or now, "lastModified": now,
        }}
        await Person.filter(id=saved.id).update(attributes=saved.attributes)
        if login is None:
            login = await User.create(username=wanted["userName"], person_id=saved.id,
                                      password_hash="")
        elif login.username != wanted["userName"]:
            await User.filter(id=login.id).update(username=wanted["userName"])
        await bump_directory_version()
    resource = (await _user_resources(base, [(saved.id, wanted["userName"])]))[0]
    return Written(resource, report.leavers)


async def _new_key(username: str) -> str:
    """A person key for a user the identity provider gave no employee number."""
    base = re.sub(r"[^A-Za-z0-9_.@-]+", "-", username)[:56] or "user"
    key, number = base, 1
    while await Person.exists(key=key):
        number += 1
        key = f"{base}-{number}"
    return key


async def create_user(base: str, body: Any) -> Written:
    """POST /Users: a person (or the org import's person with that employee number) and a
    login without a password."""
    return await _write_user(base, _user_input(body), None, None)


async def replace_user(base: str, person_id: str, body: Any) -> Written:
    """PUT /Users/{id}: the user becomes what the body says."""
    login = await _login_of(person_id)
    person = await Person.get(id=login.person_id)
    return await _write_user(base, _user_input(body), person, login)


async def patch_user(base: str, person_id: str, body: Any) -> Written:
    """PATCH /Users/{id}: the operations applied to the user as it is, then written as a PUT."""
    current = await get_user(base, person_id)
    current.pop("meta", None)
    return await replace_user(base, person_id, apply_patch(current, body))


async def delete_user(person_id: str) -> list[int]:
    """DELETE /Users/{id}: the person becomes a leaver (through the org import) and loses their
    login; returns the leavers."""
    login = await _login_of(person_id)
    async with in_transaction():
        person = await Person.get(id=login.person_id)
        report = await org_import.import_rows(
            ["employee_id", "name", "active"], [(1, [person.key, person.name, "no"])]
        )
        if not report.ok:  # pragma: no cover - one known person, active = no
            raise _invalid("; ".join(report.errors))
        await User.filter(id=login.id).delete()
        await bump_directory_version()
    return report.leavers


# -- groups ------------------------------------------------------------------------------------


def _membership_name(display_name: str) -> str:
    """The group name lanes and rights use for a SCIM group."""
    return display_name.strip().lower()[:64]


async def _group_resources(base: str, rows: list[DirectoryGroup]) -> list[dict[str, Any]]:
    names = {_membership_name(row.name) for row in rows}
    members: dict[str, list[int]] = {}
    for group, person_id in await GroupMembership.filter(group__in=list(names)).order_by(
        "person_id"
    ).values_list("group", "person_id"):
        members.setdefault(group, []).append(person_id)
    out = []
    for row in rows:
        resource: dict[str, Any] = {"schemas": [GROUP], "id": str(row.id)}
        if row.external_id:
            resource["externalId"] = row.external_id
        resource["displayName"] = row.name
        held = members.get(_membership_name(row.name), [])
        if held:
            resource["members"] = [
                {"value": str(pid), "$ref": f"{base}/Users/{pid}"} for pid in held
            ]
        out.append(_with_meta(resource, "Group", f"{base}/Groups/{row.id}",
                              _stamp(row.created_at), _stamp(row.updated_at)))
    return out


async def list_groups(
    base: str, filter_text: str = "", start: int = 1, count: int | None = None
) -> dict[str, Any]:
    """A page of groups, filtered by `displayName eq` / `externalId eq`, in id order."""
    query = DirectoryGroup.all()
    if filter_text.strip():
        query = query.filter(_query(parse_filter(filter_text), _GROUP_FILTERS, GROUP))
    start, count = _page(start, count)
    total = await query.count()
    rows = await query.order_by("id").offset(start - 1).limit(count)
    return list_response(await _group_resources(base, list(rows)), total, start)


async def _group_row(group_id: str) -> DirectoryGroup:
    number = _int_id(group_id)
    row = await DirectoryGroup.get_or_none(id=number) if number is not None else None
    if row is None:
        raise _not_found("Group", group_id)
    return row


async def get_group(base: str, group_id: str) -> dict[str, Any]:
    """One group; 404 when there is none."""
    return (await _group_resources(base, [await _group_row(group_id)]))[0]


def _group_input(body: Any) -> tuple[str, str | None, list[int]]:
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object (a Group resource)")
    if GROUP not in (body.get("schemas") or []):
        raise _invalid(f"a Group lists the schema {GROUP}")
    name = _text(body.get("displayName"), "displayName", 64)
    if not name:
        raise _invalid("displayName is required")
    members = body.get("members") or []
    if not isinstance(members, list):
        raise _invalid("members must be a list")
    ids: list[int] = []
    for member in members:
        value = member.get("value") if isinstance(member, dict) else None
        number = _int_id(value) if value is not None else None
        if number is None:
            raise _invalid(f"member {value!r} is not a User id")
        if number not in ids:
            ids.append(number)
    return name, _text(body.get("externalId"), "externalId", 255) or None, ids


async def _write_group(base: str, body: Any, row: DirectoryGroup | None) -> dict[str, Any]:
    name, external_id, member_ids = _group_input(body)
    now = clock.now()
    async with in_transaction():
        for other in await DirectoryGroup.all():
            if (row is None or other.id != row.id) and (
                _membership_name(other.name) == _membership_name(name)
            ):
                raise ScimError(409, f"a group named {other.name!r} exists", "uniqueness")
        known: set[Any] = set(
            await Person.filter(id__in=member_ids).values_list("id", flat=True)
        )
        missing = [str(pid) for pid in member_ids if pid not in known]
        if missing:
            raise _invalid(f"no User {', '.join(missing)}")
        if row is None:
            row = await DirectoryGroup.create(name=name, external_id=external_id,
                                              created_at=now, updated_at=now)
        else:
            old = _membership_name(row.name)
            if old != _membership_name(name):
                await GroupMembership.filter(group=old).delete()
            await DirectoryGroup.filter(id=row.id).update(name=name, external_id=external_id,
                                                          updated_at=now)
        group = _membership_name(name)
        held: set[Any] = set(
            await GroupMembership.filter(group=group).values_list("person_id", flat=True)
        )
        await GroupMembership.filter(group=group, person_id__in=list(held - set(member_ids))
                                     ).delete()
        await GroupMembership.bulk_create(
            [GroupMembership(group=group, person_id=pid) for pid in member_ids if pid not in held]
        )
        await bump_directory_version()
    return await get_group(base, str(row.id))


async def create_group(base: str, body: Any) -> dict[str, Any]:
    """POST /Groups."""
    return await _write_group(base, body, None)


async def replace_group(base: str, group_id: str, body: Any) -> dict[str, Any]:
    """PUT /Groups/{id}: name, externalId and members become what the body says."""
    return await _write_group(base, body, await _group_row(group_id))


async def patch_group(base: str, group_id: str, body: Any) -> dict[str, Any]:
    """PATCH /Groups/{id}: add or remove members, rename; written as a PUT."""
    current = await get_group(base, group_id)
    current.pop("meta", None)
    return await replace_group(base, group_id, apply_patch(current, body))


async def delete_group(group_id: str) -> None:
    """DELETE /Groups/{id}: the group and its memberships go."""
    row = await _group_row(group_id)
    async with in_transaction():
        await GroupMembership.filter(group=_membership_name(row.name)).delete()
        await DirectoryGroup.filter(id=row.id).delete()
        await bump_directory_version()
