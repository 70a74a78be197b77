"""mkdocs hook: replace ``<!-- results-index -->`` with the index of ``benchmarks/results`` as
``benchmarks/results_index.py`` writes it, rendered from the files present when the site is built (so the page is
current even when the committed ``INDEX.md`` is not)."""

from __future__ import annotations

import importlib.util
import os

MARKER = "<!-- results-index -->"
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks",
                      "results_index.py")


def render() -> str:
    spec = importlib.util.spec_from_file_location("results_index", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    return text.split("\n", 1)[1]  # its title is the page section's


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render())
    return markdown
