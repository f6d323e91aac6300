"""The designer area (/designer): edit a pack's BPMN, DMN and forms as drafts, validate,
deploy, migrate running instances, import and export packs.

Only members of the `designer` group get anything but 404 here. Edits are kept as the
designer's drafts in the database, byte for byte as the browser sent them; a designer edits the
pack as its latest deployed version holds it, and a deploy stores a new version in the database.
No route writes a pack folder except importing a pack (engine.packs.designer).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.routes.designer.deploys import deploy, migrate_page, migrate_submit
from webapp.routes.designer.diagrams import bpmn_editor, bpmn_panel, dmn_editor
from webapp.routes.designer.form_editor import (
    form_builder,
    form_builder_preview,
    form_editor,
    form_preview_fragment,
    form_save,
)
from webapp.routes.designer.home import (
    designer_home,
    drafts_discard,
    export_zip,
    file_save,
    file_source,
    import_page,
    import_submit,
    validate_page,
)

# Specific paths first: a pack file may be called anything, process ids too.
routes: list[BaseRoute] = [
    Route("/designer", designer_home, methods=["GET"], name="designer_home"),
    Route("/designer/import", import_page, methods=["GET"], name="designer_import"),
    Route("/designer/import", import_submit, methods=["POST"]),
    Route("/designer/{pack}/export.zip", export_zip, methods=["GET"], name="designer_export"),
    Route("/designer/{pack}/validate", validate_page, methods=["GET"], name="designer_validate"),
    Route("/designer/{pack}/deploy", deploy, methods=["POST"], name="designer_deploy"),
    Route("/designer/{pack}/discard", drafts_discard, methods=["POST"],
          name="designer_discard"),
    Route("/designer/{pack}/files/{path:path}", file_source, methods=["GET"],
          name="designer_file"),
    Route("/designer/{pack}/files/{path:path}", file_save, methods=["POST"]),
    Route("/designer/{pack}/bpmn/{path:path}/panel", bpmn_panel, methods=["GET", "POST"],
          name="designer_panel"),
    Route("/designer/{pack}/bpmn/{path:path}", bpmn_editor, methods=["GET"],
          name="designer_bpmn"),
    Route("/designer/{pack}/dmn/{path:path}", dmn_editor, methods=["GET"], name="designer_dmn"),
    Route("/designer/{pack}/forms/{name}/preview", form_preview_fragment, methods=["POST"],
          name="designer_form_preview"),
    Route("/designer/{pack}/forms/{name}/builder", form_builder, methods=["POST"],
          name="designer_form_builder"),
    Route("/designer/{pack}/forms/{name}/builder/preview", form_builder_preview,
          methods=["POST"], name="designer_form_builder_preview"),
    Route("/designer/{pack}/forms/{name}", form_editor, methods=["GET"], name="designer_form"),
    Route("/designer/{pack}/forms/{name}", form_save, methods=["POST"]),
    Route("/designer/{pack}/{process}/migrate", migrate_page, methods=["GET"],
          name="designer_migrate"),
    Route("/designer/{pack}/{process}/migrate", migrate_submit, methods=["POST"]),
]
