"""The lab's hosts: network namespaces with addresses of their own, on one machine.

* :mod:`.network`: :class:`Cluster` -- namespaces on a bridge in 198.18.0.0/24, a cable to
  cut and rejoin, everything deleted on every path;
* :mod:`.cgroup`: a cgroup per host, which everything the lab starts there joins before it
  runs, so that the host's end kills it all;
* :mod:`.delay`: latency on a host's link, added in user space (this kernel has no netem).
"""

from .network import Cluster, ClusterError, Host, clean, leftovers, unavailable

__all__ = ["Cluster", "ClusterError", "Host", "clean", "leftovers", "unavailable"]
