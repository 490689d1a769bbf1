gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s 'localhost:8000/prime/142702110479723?nap=1'   # "cpu": its own CPU, "elapsed": its wall
curl -N 'localhost:8000/spin/9999999999999917?nap=1'   # the spinner turns again
locust --headless -u 3 -t 20s --tags heartbeat --nap
kill %1
