gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/prime/9999999999999917 > /dev/null & sleep 0.2   # a long prime...
time curl -s localhost:8000/health                                      # ...and /health waits for it
locust --headless -u 3 -t 20s --tags heartbeat                          # CpuUser + one HeartbeatUser
kill %1
