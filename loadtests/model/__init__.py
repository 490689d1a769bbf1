"""The pure model: what the physics allows a server, with no server, Flask or Locust in it.

:mod:`.queueing`: Little's law, cores ÷ service time, the closed network (mean value
analysis) near the knee, and M/M/c's wait (Erlang C).
:mod:`.simulate`: each worker model's simulated twin (SimPy), for latency percentiles under
open or closed traffic.
:mod:`.overload`: past the knee as a fluid: the queue a burst leaves, the goodput within a
deadline, and the time to recover.
"""
