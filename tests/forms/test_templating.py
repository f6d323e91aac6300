from __future__ import annotations

import pytest

from forms import FormDefinitionError, render_instructions, render_schema_template


def test_schema_template_is_rendered_with_task_data() -> None:
    text = (
        '{"title": "Appraisal of {{ employee.name }}", "properties": {"goal": '
        '{"type": "string", "default": {{ last_goal | tojson }}}}}'
    )
    schema = render_schema_template(text, {"employee": {"name": "Ada"}, "last_goal": 'Ship "X"'})
    assert schema["title"] == "Appraisal of Ada"
    assert schema["properties"]["goal"]["default"] == 'Ship "X"'


def test_missing_task_data_renders_empty() -> None:
    schema = render_schema_template('{"title": "Review for {{ manager.name }}"}', {})
    assert schema == {"title": "Review for "}


def test_a_missing_number_renders_empty_through_the_number_filters() -> None:
    # A course's cost before the course is chosen: the sentence reads empty, not a failed page.
    html = render_instructions("{{ course.cost | round | int }} EUR, {{ days | float }} days",
                               {"days": "2.5"})
    assert str(html) == "<p>EUR, 2.5 days</p>\n"
    assert str(render_instructions("{{ cost | round | int }}", {"cost": 499.6})) == "<p>500</p>\n"


def test_bad_json_after_rendering_is_a_clear_error() -> None:
    with pytest.raises(FormDefinitionError, match="not valid JSON after rendering.*line 1"):
        render_schema_template('{"title": "{{ name }}"}', {"name": 'say "hi"'})


def test_template_cannot_reach_python_internals() -> None:
    assert render_schema_template('{"x": "{{ "".__class__ }}"}', {}) == {"x": ""}
    with pytest.raises(FormDefinitionError, match="unsafe"):
        render_schema_template('{"x": "{{ "".__class__.__mro__[1].__subclasses__() }}"}', {})


def test_instructions_render_markdown_with_task_data() -> None:
    html = render_instructions("## Review\n\nPlease assess **{{ name }}**.", {"name": "Ada"})
    assert "<h2>Review</h2>" in html
    assert "<strong>Ada</strong>" in html


def test_instructions_escape_raw_html_from_template_and_data() -> None:
    html = render_instructions(
        "<script>alert(1)</script>\n\nHello {{ name }} [x](javascript:alert(2))",
        {"name": "<img src=x onerror=alert(3)>"},
    )
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_what_a_person_typed_stays_text_in_the_instructions() -> None:
    """A comment put into instructions cannot become a link or an image; the pack's own
    Markdown around it still renders."""
    from forms import render_instructions

    html = str(render_instructions(
        "**Your manager wrote:** {{ comment }}",
        {"comment": "[sign in again](https://evil.example) ![t](/admin/outbox) *really*"},
    ))
    assert "<strong>Your manager wrote:</strong>" in html
    assert "[sign in again](https://evil.example) ![t](/admin/outbox) *really*" in html
    assert "<a " not in html and "<img" not in html and "<em>" not in html


def test_a_packs_own_links_show_where_they_go_and_images_do_not_load() -> None:
    from forms import render_instructions

    html = str(render_instructions(
        "Read [the policy](https://hr.example/policy) ![logo](/static/logo.png)", {}))
    assert ('<a href="https://hr.example/policy" rel="nofollow noopener noreferrer">'
            "the policy</a>") in html
    assert '<span class="link-address">(https://hr.example/policy)</span>' in html
    assert "<img" not in html
