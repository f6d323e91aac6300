from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import FormData

from forms import form_spec

ROWS = FormData(
    [
        ("objectives-0-title", "Ship the app"),
        ("objectives-0-weight", "50"),
        ("objectives-0-due", "2026-06-30"),
        ("objectives-1-title", "Hire two"),
        ("objectives-1-weight", "abc"),
        ("objectives-1-due", ""),
        ("objectives-2-title", "Write docs"),
        ("objectives-2-weight", "20"),
        ("objectives-2-due", ""),
    ]
)


def test_add_row_keeps_everything_typed(objectives_schema: dict) -> None:
    bound = form_spec(objectives_schema, {}).bind(ROWS)
    assert bound.apply_action("add:objectives")
    html = bound.render(action="/t")
    assert 'name="objectives-3-title"' in html
    # Even the invalid "abc" survives the re-render untouched.
    for typed in ("Ship the app", "abc", "Write docs", "2026-06-30"):
        assert f'value="{typed}"' in html


def test_remove_row_renumbers_and_keeps_the_others(objectives_schema: dict) -> None:
    bound = form_spec(objectives_schema, {}).bind(ROWS)
    assert bound.apply_action("remove:objectives:1")
    assert [row["title"] for row in bound.to_data()["objectives"]] == ["Ship the app", "Write docs"]
    html = bound.render(action="/t")
    assert 'name="objectives-1-title"' in html and 'value="Write docs"' in html
    assert "objectives-2-title" not in html and "Hire two" not in html


def test_other_actions_are_not_handled(objectives_schema: dict) -> None:
    bound = form_spec(objectives_schema, {}).bind(ROWS)
    assert not bound.apply_action("")
    assert not bound.apply_action("add:employee_name")
    assert not bound.apply_action("explode:objectives")


def test_add_row_works_without_javascript(
    objectives_schema: dict, browser_post: Callable[..., FormData]
) -> None:
    spec = form_spec(objectives_schema, {})
    html = spec.bind(None, {"objectives": [{"title": "Ship", "weight": 100}]}).render(action="/t")
    posted = browser_post(html, ("_form_action", "add:objectives"))
    bound = spec.bind(posted)
    assert bound.requested_action == "add:objectives"
    assert bound.apply_action()
    assert [row["title"] for row in bound.to_data()["objectives"]] == ["Ship", ""]


def test_add_button_disappears_at_max_items(objectives_schema: dict) -> None:
    rows = [{"title": str(i), "weight": 25} for i in range(4)]
    bound = form_spec(objectives_schema, {}).bind(None, {"objectives": rows})
    assert 'value="add:objectives"' not in bound.render(action="/t")
    assert bound.apply_action("add:objectives")
    assert len(bound.to_data()["objectives"]) == 4


def test_empty_table_starts_with_min_items_rows(objectives_schema: dict) -> None:
    html = form_spec(objectives_schema, {}).bind().render(action="/t")
    assert 'name="objectives-0-title"' in html
    assert 'name="objectives-1-title"' not in html
