"""The harness every part of the lab stands on: processes (start, stop, reap: :mod:`.procs`),
their CPU (:mod:`.cpu`) and command-line argument types (:mod:`.argtypes`)."""
