"""The harness every part of the lab stands on: processes (start, stop, reap: :mod:`.procs`),
their CPU (:mod:`.cpu`), what the kernel queues for a port (:mod:`.sockets`) and command-line
argument types (:mod:`.argtypes`)."""
