"""Regenerate toolkit-page.html: the clearinghouse toolkit text as a simple page with links.

Each resource title of /work/shared/data/toolkit-page.txt (copied here as toolkit-page.txt)
becomes an <h3> whose link is the URL the bundled catalog gives that title; the paragraph
after it is the description. Run from the repository root:

    .venv/bin/python tests/data/import/make_toolkit_page.py
"""

from __future__ import annotations

import html
from pathlib import Path

from catalog.hygiene import normalise_title
from catalog.settings import BUNDLED_CATALOG
from catalog.source import load_catalog

HERE = Path(__file__).resolve().parent


def main() -> None:
    urls = {normalise_title(r.title): r.url for r in load_catalog(BUNDLED_CATALOG).resources}
    blocks = [b.strip() for b in (HERE / "toolkit-page.txt").read_text().split("\n\n")]
    blocks = [b for b in blocks if b]
    # The first two blocks are the page's navigation and title, the last its footer.
    back, page_title, rest, footer = blocks[0], blocks[1], blocks[2:-1], blocks[-1]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{html.escape(page_title)}</title></head>',
        "<body>",
        f'<nav><a href="https://www.nationalpublicsafetypartnership.org/Clearinghouse">'
        f"{html.escape(back)}</a></nav>",
        f"<h1>{html.escape(page_title)}</h1>",
    ]
    for block in rest:
        key = normalise_title(block)
        if key in urls:
            out.append(f'<h3><a href="{html.escape(urls[key])}">{html.escape(block)}</a></h3>')
        else:
            out.append(f"<p>{html.escape(block)}</p>")
    out += [f"<footer>{html.escape(footer)}</footer>", "</body>", "</html>", ""]
    (HERE / "toolkit-page.html").write_text("\n".join(out), encoding="utf-8")


if __name__ == "__main__":
    main()
