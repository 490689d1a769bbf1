. .venv/bin/activate                                                   # after `make demo` or `make test`
gunicorn -c gunicorn.conf.py &                                         # sync, 1 worker, on 127.0.0.1:8000
gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8001 &             # gevent worker (monkey-patched)
gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8 -b 127.0.0.1:8002 &
gunicorn -c gunicorn.conf.py -k asgi -b 127.0.0.1:8003 &               # asyncio: serves the ASGI twin, webapp.asgi:app
WORKER_CLASS=gthread THREADS=8 BIND=127.0.0.1:8004 gunicorn -c gunicorn.conf.py &   # the same choice by environment (make serve)
for port in 8000 8001 8002 8003 8004; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
for port in 8000 8001 8002 8003 8004; do curl -s localhost:$port/info | grep -o '"worker_class":"[a-z]*","threads":[0-9]*'; done
kill %1 %2 %3 %4 %5
