"""The pure model: what the physics allows a server, with no server, Flask or Locust in it.

:mod:`.queueing`: Little's law, cores ÷ service time, and the closed network (mean value
analysis) near the knee.
"""
