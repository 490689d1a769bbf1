redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no &
REDIS_URL=redis://127.0.0.1:6390/0 celery -A webapp.tasks worker --pool prefork -c 2 &
REDIS_URL=redis://127.0.0.1:6390/0 OFFLOAD_BACKEND=celery gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/offload/prime/142702110479723    # published, run by a prefork child, answered
kill %3 %2; wait %2; kill %1          # Celery acks its last task while Redis is still there
