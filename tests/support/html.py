"""Reading pages the way a person reads them: table rows by their heading, cell texts."""

from __future__ import annotations

import lxml.html


def row_cells(html: str, heading: str, *, within: str | None = None) -> list[str]:
    """The texts of the cells of the first table row whose first cell (or row header) reads
    `heading` (perhaps followed by a note, such as an employee id), in `within` (an element id)
    or anywhere; [] when there is no such row."""
    page = lxml.html.fromstring(html)
    scope = page.get_element_by_id(within) if within else page
    for row in scope.iter("tr"):
        cells = [" ".join(c.text_content().split()) for c in row if c.tag in ("th", "td")]
        if cells and (cells[0] == heading or cells[0].startswith(heading + " ")):
            return cells[1:]
    return []


def cell_texts(html: str) -> list[str]:
    """Every table cell's text on the page, in order."""
    page = lxml.html.fromstring(html)
    return [" ".join(c.text_content().split()) for c in page.iter("td")]
