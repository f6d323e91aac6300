"""Running a deployment: the background worker, readiness and health checks, `sightline bench`
and demo data.

The top room: it may import from any other; nothing in the engine imports it.
"""
