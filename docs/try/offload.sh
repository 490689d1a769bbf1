gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/offload/prime/142702110479723   # "cpu": the pool process's CPU
curl -N 'localhost:8000/spin/9999999999999917?offload=1'
locust --headless -u 3 -t 20s --tags heartbeat --offload
kill %1
