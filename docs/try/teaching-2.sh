curl -N localhost:8001/spin/9999999999999917               # spins: the GIL is handed over
curl -N localhost:8002/spin/9999999999999917               # one frame, then frozen
