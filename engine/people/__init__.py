"""People and where they sit: the directory snapshot (managers, HR partners, delegations),
organisation imports, who a task is assigned to, and logins.

Imports only from `base`.
"""
