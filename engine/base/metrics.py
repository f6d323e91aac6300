"""What the engine counts as it works, for `/metrics` (Prometheus).

Counters are per process (each web process and worker is scraped on its own); backlogs are
read from the database when scraped (webapp/metrics.py), so every process reports the same.
"""

from __future__ import annotations

from prometheus_client import Counter

actions_reapplied = Counter(
    "sightline_actions_reapplied_total",
    "Actions run again on fresh state because their instance changed meanwhile",
)
conflicts = Counter(
    "sightline_conflicts_total",
    "Actions refused as a conflict (the task was completed or closed meanwhile)",
)
delivery_retries = Counter(
    "sightline_message_delivery_retries_total",
    "Deliveries of a message or signal put off because a receiving instance changed meanwhile",
)
actions_moved_off_loop = Counter(
    "sightline_actions_moved_off_loop_total",
    "Actions that ran past their budget on the event loop and were run again on a thread",
)
