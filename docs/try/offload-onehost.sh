OFFLOAD_BACKEND=dirty gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8001 &   # one server, shared pool
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8001/health   # up?
curl -s localhost:8001/offload/prime/142702110479723

redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no &             # Celery on one host
celery -A webapp.tasks worker --pool prefork --concurrency 2 &
OFFLOAD_BACKEND=celery gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8002 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8002/health   # up?
curl -s localhost:8002/info      # ..."offload":{"backend":"celery","redis_url":"redis://127.0.0.1:6379/0",
                                 #               "result_waiter":"geventDrainer"}
curl -s localhost:8002/offload/prime/142702110479723
kill %1 %4 %3; wait %3; kill %2     # Celery acks its last task while Redis is still there
