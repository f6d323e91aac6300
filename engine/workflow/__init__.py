"""Running instances: the runtime that starts and steps them, the store that saves them
optimistically, the audit chain, background jobs, records written by scripts, notifications,
who may see and act on what, the inbox and an instance's history.

Imports from `base`, `people`, `scripts` and `packs`.
"""
