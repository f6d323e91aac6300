"""SCIM provisioning's writes with their effects: what engine.people.scim writes, plus the
leavers' open tasks re-routed (engine.workflow.directory_changes, as `sightline org import`
does) and an audit event naming the token that made each change.

A user deactivated (`active: false`) or deleted by the identity provider is a leaver exactly
as one listed with `active = no` in an org import is.
"""

from __future__ import annotations

from typing import Any

from engine.people import scim
from engine.workflow.directory_changes import reroute_leavers
from engine.workflow.store import record_event


async def _written(actor: str, action: str, written: scim.Written) -> dict[str, Any]:
    resource = written.resource
    await record_event(actor, action, detail={
        "user": resource["id"], "userName": resource.get("userName"),
        "active": resource.get("active"),
    })
    await reroute_leavers(written.leavers, actor)
    return resource


async def create_user(actor: str, base: str, body: Any) -> dict[str, Any]:
    """POST /Users."""
    return await _written(actor, "scim_user_created", await scim.create_user(base, body))


async def replace_user(actor: str, base: str, person_id: str, body: Any) -> dict[str, Any]:
    """PUT /Users/{id}."""
    written = await scim.replace_user(base, person_id, body)
    return await _written(actor, "scim_user_replaced", written)


async def patch_user(actor: str, base: str, person_id: str, body: Any) -> dict[str, Any]:
    """PATCH /Users/{id}."""
    written = await scim.patch_user(base, person_id, body)
    return await _written(actor, "scim_user_patched", written)


async def delete_user(actor: str, person_id: str) -> None:
    """DELETE /Users/{id}: a leaver without a login."""
    leavers = await scim.delete_user(person_id)
    await record_event(actor, "scim_user_deleted", detail={"user": person_id})
    await reroute_leavers(leavers, actor)


async def create_group(actor: str, base: str, body: Any) -> dict[str, Any]:
    """POST /Groups."""
    return await _group(actor, "scim_group_created", await scim.create_group(base, body))


async def replace_group(actor: str, base: str, group_id: str, body: Any) -> dict[str, Any]:
    """PUT /Groups/{id}."""
    resource = await scim.replace_group(base, group_id, body)
    return await _group(actor, "scim_group_replaced", resource)


async def patch_group(actor: str, base: str, group_id: str, body: Any) -> dict[str, Any]:
    """PATCH /Groups/{id}."""
    return await _group(actor, "scim_group_patched", await scim.patch_group(base, group_id, body))


async def delete_group(actor: str, group_id: str) -> None:
    """DELETE /Groups/{id}."""
    await scim.delete_group(group_id)
    await record_event(actor, "scim_group_deleted", detail={"group": group_id})


async def _group(actor: str, action: str, resource: dict[str, Any]) -> dict[str, Any]:
    # Group membership can grant rights (a SCIM group "HR" is the hr group): say who changed it.
    await record_event(actor, action, detail={
        "group": resource["id"], "displayName": resource["displayName"],
        "members": [m["value"] for m in resource.get("members", [])],
    })
    return resource
