OFFLOAD_BACKEND=pool gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8001 &    # the worker's process pool
OFFLOAD_BACKEND=dirty gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8002 &   # gunicorn's dirty workers
for port in 8001 8002; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
curl -s localhost:8001/offload/prime/142702110479723     # the same answer from either place
curl -s localhost:8002/offload/prime/142702110479723
curl -s localhost:8002/info       # ... "offload":{"backend":"dirty", ...
kill %1 %2
