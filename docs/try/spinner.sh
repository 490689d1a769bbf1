gunicorn -c gunicorn.conf.py -k gthread -b 127.0.0.1:8001 &
gunicorn -c gunicorn.conf.py -k gevent  -b 127.0.0.1:8002 &
for port in 8001 8002; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
curl -N localhost:8001/spin/9999999999999917               # spins: the GIL is handed over
curl -N localhost:8002/spin/9999999999999917               # one frame, then frozen until the answer
curl -N 'localhost:8002/spin/9999999999999917?nap=1'       # spins again: napping
curl -N 'localhost:8002/spin/9999999999999917?offload=1'   # spins again: a process computes
kill %1 %2
