"""What every other room stands on: the engine's clock, database connections and models,
errors, metrics, workflow-state serialisation, and `internals` — the only module allowed to
reach into SpiffWorkflow's, Tortoise's and aiosqlite's private parts.

Imports nothing from the rest of the engine.
"""
