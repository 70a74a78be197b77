"""``edge-ocr nets``: the networks' own command (import the official weights, save the networks again)."""

from __future__ import annotations

import argparse

from edge_ocr.cli import command


@command("nets")
def _add_nets(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("nets", help="the PP-OCRv2 networks in Paddle dygraph")
    nsub = parser.add_subparsers(dest="nets_command", required=True)
    export = nsub.add_parser("export", help="import the official weights and save the networks as inference models")
    export.add_argument("--init", required=True, metavar="MODELS_DIR", help="official inference models")
    export.add_argument("--out", required=True, metavar="DIR")
    export.set_defaults(func=run_nets_export)


def run_nets_export(args: argparse.Namespace) -> int:
    from .registry import export_models

    print(export_models(args.init, args.out))
    return 0
