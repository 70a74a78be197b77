"""``python -m edge_ocr`` is the ``edge-ocr`` command."""

import sys

from edge_ocr.cli import main

sys.exit(main())
