"""`sightline bench`: the engine measured against a reference measured in the same run.

Machines here differ 1.5-2x in speed and other work may run beside a bench, so every figure
comes with a reference taken in the same run — bare SpiffWorkflow doing the same work, or the
same clients just before a launch — and the JSON carries the machine's load average.

Every measurement gets a database of its own, made for it and removed afterwards: a SQLite file
in a temporary folder, or, when DATABASE_URL (or `--database`) names a PostgreSQL server, a
throwaway database created on that server. The database the URL names is never opened.

Parts of the launch and conflicts benches run in child processes (`python -m engine.operations.bench
ROLE`, spoken to in JSON lines): a deployment launches cycles in a worker process while its
users work through web processes, and two people signing at the same moment come through two
processes.
"""

from __future__ import annotations

import os
from typing import Any

from engine.operations.bench.common import bench_database, database_kind, load_average
from engine.operations.bench.conflicts import conflicts_bench
from engine.operations.bench.dashboards import dashboards_bench
from engine.operations.bench.engine_bench import ROUND, engine_bench
from engine.operations.bench.launch import CLIENTS, launch_bench

__all__ = [
    "bench_database",
    "conflicts_bench",
    "dashboards_bench",
    "database_kind",
    "engine_bench",
    "launch_bench",
    "run",
]


async def run(args: Any) -> dict[str, Any]:
    """Run the benchmarks the arguments ask for; returns one JSON-able dict.

    `args.database` is the DATABASE_URL to honour (PostgreSQL: a throwaway database on that
    server; anything else: a temporary SQLite file)."""
    from engine.workflow.instance import recent_workflows

    database = getattr(args, "database", None)
    load_at_start = load_average()
    result: dict[str, Any] = {}
    if getattr(args, "launch", 0):
        clients = getattr(args, "clients", CLIENTS)
        result = await launch_bench(args.launch, database, clients=clients)
    elif getattr(args, "conflicts", 0):
        result = await conflicts_bench(args.conflicts, database)
    elif getattr(args, "dashboards", False):
        result = await dashboards_bench(database_url=database)
    else:
        instances = max(1, args.tasks // len(ROUND))
        result.update(await engine_bench(instances, database))
        # The same again with every action loading its workflow from the database.
        size, recent_workflows.size = recent_workflows.size, 0
        try:
            cold = await engine_bench(instances, database)
        finally:
            recent_workflows.size = size
        result["engine_task_completions_per_s_without_workflow_cache"] = cold[
            "engine_task_completions_per_s"
        ]
        result["ratio_without_workflow_cache"] = cold["ratio"]
    result["load_average_1min"] = {"start": load_at_start, "end": load_average()}
    result["cpus"] = os.cpu_count()
    return result
