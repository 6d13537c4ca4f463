"""``flowc run`` and ``flowc resume``: the embedded local scheduler.

``plan`` decides which tasks a finished task releases (pure graph logic), ``processes`` forks
one isolated child per task from a scheduler that imported the flow once, ``progress`` shows
per-step counts, and ``runner`` ties them to the runtime shim and the datastore.
"""
