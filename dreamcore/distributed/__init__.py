"""The ``procrastinate`` executor: a cycle as jobs in the PostgreSQL store, run by ``dreamcore worker``.

Jobs carry ids only (a run id, procedure or dream ids); everything else is read from the store, so
any machine with the same dreams.toml that reaches the server can run any job. Delivery is
at-least-once (a dead worker's job runs again); effects are exactly-once because every final write
is conditional (see docs/distributed.md). ``jobs`` defines the job kinds and the cycle's coordinator,
``commands`` the ``worker`` and ``cluster`` commands.
"""
