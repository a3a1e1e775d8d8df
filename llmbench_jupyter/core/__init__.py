"""The measurement core: config and targets, transports, measurement of one request, tokens,
padding, pricing, client overhead and the workload engine (``core.workload``).

It imports nothing from the store, jobs, analysis or any surface, and nothing from Jupyter;
this ``__init__`` imports nothing at all, so ``stats`` can stand on ``core.records`` and
``core.errors`` (the ground floor) without loading the engine. See docs/architecture.md.
"""
