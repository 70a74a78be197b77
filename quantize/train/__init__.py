"""The training room: the loop every network's training shares (``loop``: BN freezing, optimizer and schedule,
checkpoints, the metrics log, exporting the best student), the det, rec and cls training loops with their data and
evaluation (``det``, ``rec``, ``cls``), the losses and distillation terms, the augmentations, the DB label maps, and
quantization-aware training (``qat``: the fake-quant layers a loop trains with and their export). It builds its
networks with ``quantize.nets`` and never imports ``quantize.compress``."""
