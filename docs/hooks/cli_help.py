"""mkdocs hook: replace ``<!-- cli-help -->`` in a page with the ``--help`` of every ``edge-ocr`` sub-command.

The text comes from the argparse parser itself at build time, so the CLI page cannot drift from the code. Building
the parser imports no engine (no paddle): sub-commands import their libraries when they run.
"""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-help -->"


def _subcommands(parser: argparse.ArgumentParser, prefix: str):
    """(full command, parser) for every sub-command, depth first."""
    for action in parser._actions:  # argparse has no public walk over sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subcommands(sub, f"{prefix} {name}")


def render() -> str:
    os.environ["COLUMNS"] = "110"  # argparse wraps to the terminal width: fix it so the page is stable
    from edge_ocr.cli import build_parser

    parser = build_parser()
    parts = []
    for command, sub in _subcommands(parser, "edge-ocr"):
        level = "###" if command.count(" ") == 1 else "####"
        parts.append(f"{level} `{command}`\n\n```text\n{sub.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render())
    return markdown
