"""What each worker model *should* achieve: the lab's theoretical bounds.

Arithmetic, no servers, plus the one timing the CPU bounds rest on (S): the
probe and the matrix put every measurement beside one of these numbers.

* Blocking I/O that yields (``time.sleep`` under threads or gevent): a server
  holding ``slots`` requests at once serves a batch in waves, and in steady
  state obeys Little's law, X = L / W, so X <= min(users, slots) / delay.
* Pure-Python CPU work holds the GIL: only processes run it in parallel, and
  no more of them than there are cores, so X <= min(workers, cores, users) / S.
  Threads and greenlets add nothing.
"""

from __future__ import annotations

import math
import statistics


def cpu_parallelism(workers: int, cores: int) -> int:
    """How many pure-Python CPU jobs can run at once: processes, capped by cores."""
    return max(1, min(workers, cores))


def batch_wall(jobs: int, parallel: int, service_time: float) -> float:
    """Wall time of ``jobs`` equal jobs started together, ``parallel`` at a time.

    >>> batch_wall(8, 1, 0.5), batch_wall(8, 8, 0.5), batch_wall(4, 2, 0.3)
    (4.0, 0.5, 0.6)
    """
    if jobs <= 0:
        return 0.0
    return math.ceil(jobs / max(1, min(jobs, parallel))) * service_time


def io_bound_rps(users: int, slots: int, delay: float) -> float:
    """Little's law for a closed loop of ``users`` with no think time.

    >>> io_bound_rps(100, 16, 0.1)
    160.0
    """
    return min(users, slots) / delay


def cpu_bound_rps(users: int, workers: int, cores: int, service_time: float) -> float:
    """Throughput ceiling for GIL-holding work: cores ÷ service time, at most.

    >>> round(cpu_bound_rps(8, 4, 2, 0.2), 6)
    10.0
    """
    return min(users, cpu_parallelism(workers, cores)) / service_time


def closed_rps(customers: int, think: float, service: float) -> float:
    """Throughput of a closed queueing network by mean value analysis: ``customers`` each
    alternate ``think`` s away (a delay: sleeping, waiting on I/O) with ``service`` s at one
    queue (one core, or one process's GIL). The machine-repairman model.

    Exact for that network with an exponential service time; near its knee it lies below
    the asymptotes min(customers ÷ (think + service), 1 ÷ service), which it tends to as
    customers grow: customers that wake together queue, and their waits lengthen the
    cycle. The recursion, for n = 1 … customers: R(n) = service × (1 + Q(n − 1)),
    X(n) = n ÷ (think + R(n)), Q(n) = X(n) × R(n).

    >>> round(closed_rps(4, 0.08, 0.02), 1), round(closed_rps(1, 0.08, 0.02), 1)
    (34.5, 10.0)
    >>> round(closed_rps(200, 0.08, 0.02), 1)  # the asymptote, 1 ÷ service
    50.0
    """
    queue = throughput = 0.0
    for n in range(1, customers + 1):
        response = service * (1 + queue)
        throughput = n / (think + response)
        queue = throughput * response
    return throughput


def closed_customers(slots: float, workers: int, users: int) -> int:
    """Requests one worker holds in progress: its slots, or its share of the users if fewer
    (an even spread).

    >>> closed_customers(16, 2, 50), closed_customers(64, 2, 20), closed_customers(math.inf, 1, 8)
    (8, 10, 8)
    """
    return int(min(slots / workers, math.ceil(users / workers)))


def closed_network_rps(slots: float, workers: int, users: int, cores: int, think: float,
                       service: float) -> float:
    """Per worker, the closed network of its requests in progress (:func:`closed_customers`)
    between their wait ``think`` and its one GIL (:func:`closed_rps`), summed over the
    workers, and at most min(users, workers, cores) ÷ ``service`` (the GILs share the cores).

    >>> round(closed_network_rps(16, 2, 50, 2, 0.08, 0.02), 1)  # the asymptote says 100
    97.0
    """
    network = workers * closed_rps(closed_customers(slots, workers, users), think, service)
    return min(network, cpu_bound_rps(users, workers, cores, service))


def erlang_c(servers: int, offered: float) -> float:
    """The probability that an arrival waits in an M/M/c queue (Erlang's C formula):
    ``servers`` servers, ``offered`` load a = λ × S (below ``servers``).

    >>> round(erlang_c(1, 0.8), 3), round(erlang_c(3, 2.4), 4)
    (0.8, 0.6472)
    """
    if not 0 <= offered < servers:
        raise ValueError(f"offered load must be below {servers} servers, got {offered}")
    term, below = 1.0, 1.0  # a^k / k!, and its sum for k < servers
    for k in range(1, servers):
        term *= offered / k
        below += term
    top = term * offered / servers / (1 - offered / servers)
    return top / (below + top)


def mmc_mean_wait(servers: int, rate: float, service: float) -> float:
    """M/M/c's mean time in the queue, before service: C(c, a) × S ÷ (c − a).

    >>> round(mmc_mean_wait(1, 8, 0.1), 3)  # M/M/1: ρ S ÷ (1 − ρ)
    0.4
    """
    offered = rate * service
    return erlang_c(servers, offered) * service / (servers - offered)


def drift(times: list[float]) -> float:
    """Half the range of repeated timings, as a fraction of their median: the machine's noise.

    >>> drift([0.2, 0.22, 0.18])
    0.1
    """
    return round((max(times) - min(times)) / 2 / statistics.median(times), 12)
