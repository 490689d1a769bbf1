REDIS_HOST=127.0.0.1   # the Redis host's address as the others reach it (this one machine here)
# the Redis host: listen where the others reach it, and protect it (a firewall, or requirepass)
redis-server --bind $REDIS_HOST --protected-mode no --save '' --appendonly no &
# the web host (-b 0.0.0.0:8000 to face the network)
REDIS_URL=redis://$REDIS_HOST:6379/0 OFFLOAD_BACKEND=celery \
    gunicorn -c gunicorn.conf.py -k gevent -w 2 -b 127.0.0.1:8000 &
# each of N Celery hosts (a clone of this repository and `make demo`'s .venv)
REDIS_URL=redis://$REDIS_HOST:6379/0 celery -A webapp.tasks worker --pool prefork --concurrency "$(nproc)" &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/offload/prime/142702110479723
kill %2 %3; wait %3; kill %1          # Celery acks its last task while Redis is still there
