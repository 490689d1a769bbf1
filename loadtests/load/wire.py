"""The names the runner and the locustfile share, defined once.

The locustfile imports this module as ``wire`` (Locust puts the locustfile's folder on
``sys.path`` while it loads it), the runner as :mod:`loadtests.load.wire`; it imports
nothing, so that both can.
"""

#: :data:`webapp.work.primes.QUICK_PRIME` (about 0.2 s), the locustfile's default ``--prime-n``
#: (it cannot import webapp: a test keeps the two equal).
DEFAULT_PRIME_N = 142702110479723
#: Logged by the locustfile when the warm-up ends and the statistics restart.
RESET_MESSAGE = "lab: warm-up over, statistics reset"
#: Logged when the run stops: Locust's own words at its -t, and the locustfile's at its
#: --stop-after.
STOP_MESSAGE = "--run-time limit reached"
#: The statistics row of the CPU seconds each /prime check took where it ran (its ``cpu``, as
#: a response time in ms): S timed where the work runs, under the load itself.
WORK_ROW = "S: CPU per /prime check"
#: The statistics row of the seconds each /db request waited for a pooled connection (its
#: ``pool_wait``, as a response time in ms): the queue at the pool.
DB_WAIT_ROW = "DB: pool wait per /db"
