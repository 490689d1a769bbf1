gunicorn -c gunicorn.conf.py -k gthread -b 127.0.0.1:8001 &
gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8002 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8001/health   # up?
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8002/health
curl -s localhost:8002/prime/9999999999999917 & sleep 0.2   # a prime on the gevent worker...
time curl -s localhost:8002/health                          # ...and /health waits for it
curl -s localhost:8001/prime/9999999999999917 & sleep 0.2   # the same on gthread...
time curl -s localhost:8001/health                          # ...answers in milliseconds
wait %3 %4; kill %1 %2                                      # the primes done, both servers stop
