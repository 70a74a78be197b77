"""``edge-ocr bench``: latency per stage, load time, peak memory and size of model variants, with a report."""
