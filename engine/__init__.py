"""The Sightline engine: performance-management processes on SpiffWorkflow, with no web in it.

Rooms, lowest first; each imports only from rooms below it (`make lint` checks this):

- `base`        the clock, the database and its models, errors, metrics, serialisation and the
                one module that touches dependencies' internals;
- `people`      the directory (who reports to whom), org imports, task assignment, logins;
- `scripts`     the sandbox BPMN scripts and DMN expressions run in, its library and scoring;
- `packs`       process packs: loading, validation, specs, versions, the designer, pack tests;
- `workflow`    running instances: the runtime, the instance store, the audit chain, jobs,
                records, notifications, access rules, the inbox and history;
- `performance` the cycle itself: launches, goals, score cards, dashboards, exports;
- `operations`  running the deployment: the worker, health checks, benchmarks, demo data.
"""
