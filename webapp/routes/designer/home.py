"""The designer's home, file sources and saves, drafts, validation, and packs imported and
exported as archives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from config import settings
from engine.packs import archive
from engine.packs import designer as drafts
from engine.packs.durations import words_in
from webapp import i18n
from webapp.routes.designer.pack_files import (
    MAX_PATH,
    load_pack,
    overview,
    pack_dirs,
    pack_folders,
    plain_problem,
    require_designer,
    working_bytes,
)
from webapp.templating import flash, render


async def designer_home(request: Request) -> Response:
    """GET /designer: the installed packs, their files, versions and running instances."""
    viewer = require_designer(request)
    folders = pack_folders()
    packs = [
        await overview(name, await drafts.base_folder(name, pack_dirs()), folders, viewer)
        for name in folders
    ]
    return render(request, "designer.html", {"packs": packs, "in_words": words_in})


async def file_source(request: Request) -> Response:
    """GET /designer/{pack}/files/{path}: the working text of one file (draft or pack)."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    data = await working_bytes(pack, request.path_params["path"], viewer)
    media = "application/xml" if data.lstrip().startswith(b"<") else "text/plain"
    return Response(data, media_type=f"{media}; charset=utf-8",
                    headers={"Cache-Control": "private, no-cache"})


async def file_save(request: Request) -> Response:
    """POST /designer/{pack}/files/{path}: keep the posted text as the designer's draft."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    path = _draft_path(request.path_params["path"])
    # Kept byte for byte: the editor sends the whole file, line endings and all.
    await drafts.save_draft_file(pack.name, path, viewer.key, await request.body(),
                                 folders=pack_dirs())
    return Response(status_code=204)


def _draft_path(path: str) -> str:
    """A pack file's path as posted; 400 when no draft can have it (longer than its column,
    or a name longer than a file system holds)."""
    if len(path) > MAX_PATH or any(len(part.encode()) > MAX_PATH for part in path.split("/")):
        raise HTTPException(400, f"A file path is at most {MAX_PATH} characters.")
    return path


async def drafts_discard(request: Request) -> Response:
    """POST /designer/{pack}/discard: throw away the designer's drafts (one file or all)."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    form = await request.form()
    path = _draft_path(str(form.get("path") or "")) or None
    await drafts.discard_draft(pack.name, viewer.key, path)
    flash(request, i18n.gettext("Discarded your draft of %(path)s.", path=path) if path
          else i18n.gettext("Discarded all your drafts."),
          "success")
    return RedirectResponse(request.url_for("designer_home").path, status_code=303)


async def validate_page(request: Request) -> Response:
    """GET /designer/{pack}/validate: every problem of the designer's working copy."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    problems = await drafts.validate_draft(pack.name, viewer.key, folders=pack_dirs())
    context = {
        "pack": pack,
        "problems": problems,
        "current_file": request.query_params.get("file", ""),
        "plain_problem": plain_problem,
    }
    return render(request, "designer_validate.html", context, fragment="_designer_problems.html")


async def export_zip(request: Request) -> Response:
    """GET /designer/{pack}/export.zip: the pack as a zip (its latest deployed version)."""
    require_designer(request)
    name = request.path_params["pack"]
    folders = pack_folders()
    if name not in folders:
        raise HTTPException(404)
    data = archive.export_pack(await drafts.base_folder(name, pack_dirs()))
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )


async def import_page(request: Request) -> Response:
    """GET /designer/import: the upload form."""
    require_designer(request)
    return render(request, "designer_import.html", _import_context())


def _import_context(**extra: Any) -> dict[str, Any]:
    limit_mb = settings.MAX_PACK_UPLOAD_BYTES / (1024 * 1024)
    return {"limit": f"{limit_mb:g} MB", "error": None, "problems": [], **extra}


async def import_submit(request: Request) -> Response:
    """POST /designer/import: unpack an uploaded zip into the first PACKS folder, if valid."""
    require_designer(request)
    async with request.form() as form:
        upload = form.get("archive")
        replace = form.get("replace") == "yes"
        if upload is None or isinstance(upload, str) or not upload.filename:
            context = _import_context(error=i18n.gettext("Choose a .zip file to upload."))
            return render(request, "designer_import.html", context, status=422)
        filename = upload.filename
        data = await upload.read()
    folders = [Path(folder) for folder in settings.PACKS]
    try:
        # Unpacking, checking and validating a whole pack: off the event loop.
        result = await asyncio.to_thread(
            archive.import_pack,
            data,
            folders[0],
            max_bytes=settings.MAX_PACK_UPLOAD_BYTES,
            replace=replace,
            search=folders,
        )
    except archive.ArchiveRejected as error:
        context = _import_context(error=str(error), problems=error.problems,
                                  filename=filename)
        return render(request, "designer_import.html", context, status=422)
    done = (i18n.gettext("Replaced pack %(name)s (%(count)s files).", name=result.name,
                         count=len(result.files)) if result.replaced
            else i18n.gettext("Imported pack %(name)s (%(count)s files).", name=result.name,
                              count=len(result.files)))
    flash(request, done + " " + i18n.gettext("Validate and deploy it to run its processes."),
          "success")
    return RedirectResponse(request.url_for("designer_home").path, status_code=303)
