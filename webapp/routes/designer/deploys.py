"""Deploying a pack's drafts as new versions, and moving running instances onto a newer
version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from engine.base.errors import EngineError
from engine.packs import designer as drafts
from engine.workflow import migration
from engine.workflow.runtime import actor_for
from webapp import i18n
from webapp.input import database_id
from webapp.routes.designer.pack_files import (
    load_pack,
    pack_dirs,
    plain_problem,
    require_designer,
)
from webapp.templating import render


async def deploy(request: Request) -> Response:
    """POST /designer/{pack}/deploy: deploy the designer's working copy (refused with the
    problems while any remain), then show what changed per process."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    outcome = await drafts.deploy_draft(pack.name, viewer.key, folders=pack_dirs())
    if outcome.problems:
        context = {"pack": pack, "problems": outcome.problems, "current_file": "",
                   "plain_problem": plain_problem,
                   "refused": i18n.gettext("Not deployed: fix these problems first.")}
        return render(request, "designer_validate.html", context, status=422)
    return render(request, "designer_deployed.html", {"pack": pack, "outcome": outcome})


@dataclass
class UnpreviewableInstance:
    """An instance whose migration could not even be previewed, and why."""

    instance_id: int
    from_version: int
    to_version: int
    refusals: list[str]
    allowed: bool = False


async def _preview(instance_id: int, choice: drafts.MigrationChoice) -> Any:
    """The migration preview of one instance; a failure becomes a refusal with its message."""
    try:
        return await migration.preview_migration(instance_id, choice.target_definition_id)
    except EngineError as error:
        version = next((i.version for i in choice.instances if i.instance_id == instance_id), 0)
        return UnpreviewableInstance(instance_id, version, choice.target_version, [str(error)])


async def migrate_page(request: Request) -> Response:
    """GET /designer/{pack}/{process}/migrate: instances on older versions, to choose from."""
    require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    process_id = request.path_params["process"]
    choice = await drafts.migration_choice(pack.name, process_id)
    if choice is None:
        raise HTTPException(404)
    context = {"pack": pack, "process_id": process_id, "choice": choice, "chosen": set(),
               "previews": None, "results": None}
    return render(request, "designer_migrate.html", context)


async def migrate_submit(request: Request) -> Response:
    """POST /designer/{pack}/{process}/migrate: preview (the default) or migrate the chosen
    instances to the newest version."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    process_id = request.path_params["process"]
    choice = await drafts.migration_choice(pack.name, process_id)
    if choice is None:
        raise HTTPException(404)
    form = await request.form()
    offered = {item.instance_id for item in choice.instances}
    posted = (database_id(str(v)) for v in form.getlist("instance"))
    chosen = [i for i in posted if i is not None and i in offered]
    context: dict[str, Any] = {"pack": pack, "process_id": process_id, "choice": choice,
                               "chosen": set(chosen), "previews": None, "results": None}
    if not chosen:
        context["message"] = i18n.gettext("Choose at least one instance.")
        return render(request, "designer_migrate.html", context, status=422)
    target = choice.target_definition_id
    if form.get("action") == "migrate":
        actor = await actor_for(viewer.person_id)
        results: list[tuple[int, migration.MigrationPreview | None, str | None]] = []
        for instance_id in chosen:
            try:
                outcome = await migration.migrate_instance(instance_id, target, actor)
                results.append((instance_id, outcome, None))
            except EngineError as error:
                results.append((instance_id, None, str(error)))
        context["results"] = results
        context["choice"] = await drafts.migration_choice(pack.name, process_id)
    else:
        context["previews"] = [await _preview(instance_id, choice) for instance_id in chosen]
    return render(request, "designer_migrate.html", context)
