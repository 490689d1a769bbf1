gunicorn -c gunicorn.conf.py -k gevent &                       # the server (SERVER)
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --worker --master-host 127.0.0.1 &                      # on each load machine: --master-host MASTER_IP
locust --worker --master-host 127.0.0.1 &
locust --master --headless -u 200 -t 60s --tags io --expect-workers 2 --host http://127.0.0.1:8000   # http://SERVER:8000
wait %2 %3                                                     # the workers leave with the master
kill %1
