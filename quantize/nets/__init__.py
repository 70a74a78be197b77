"""The networks room: the PP-OCRv2 networks as trainable Paddle dygraph layers, one network per file, pinned to the
official programs; importing the official weights into them (``weights``), building a network of a role, pruned to a
plan or not and holding given weights (``registry``, ``pruned``), and saving one as an inference model (``export``).
It stands on ``edge_ocr`` alone: nothing here imports ``quantize.train`` or ``quantize.compress``."""
