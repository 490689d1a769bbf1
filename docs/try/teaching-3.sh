curl -N 'localhost:8002/spin/9999999999999917?nap=1'       # spins again: napping
curl -N 'localhost:8002/spin/9999999999999917?offload=1'   # spins again: a process computes
kill %1 %2                                                  # both servers stop
