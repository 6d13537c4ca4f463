"""``flowc run`` and ``flowc resume``: the embedded local scheduler.

- ``api``: the two commands as functions (compile, check parameters, schedule).
- ``plan``: which tasks a finished task releases (pure graph logic: joins, foreach widths,
  switch choices, recursion).
- ``processes``: one forked, isolated child per task attempt, from a scheduler that imported
  the flow once; timeouts, process groups, reaping.
- ``runner``: the scheduling loop: retries, failures, Ctrl-C, logs, the run record.
- ``resume``: which run and which steps; the rest is cloned from the origin run.
- ``shim``: the only door into the runtime shim and the datastore.
- ``progress``: per-step counts, redrawn on a terminal, plain lines elsewhere.
- ``manifest_cache``: compiled manifests of unchanged flows, kept in a local datastore.
"""


class RunError(RuntimeError):
    """A run could not start (bad parameters, unknown origin run, ...): one line for the user."""
