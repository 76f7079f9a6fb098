"""The runner's decisions, free of effects: ``Engine`` is handed the time and what happened,
and answers with actions (``engine.actions``) that ``cronpy.runtime.scheduler`` applies."""
