"""The PP-OCRv2 networks as trainable Paddle dygraph layers, one network per file, pinned to the official programs."""
