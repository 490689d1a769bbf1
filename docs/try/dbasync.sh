python -m loadtests.services.postgres &          # a lab cluster: DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab
DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab gunicorn -c gunicorn.conf.py -k asgi &
curl -sf --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null 'localhost:8000/db?ms=1'   # up, and the database? (-f: a 503 is retried)
curl -s -w '\n' 'localhost:8000/db?ms=100'          # awaited
curl -s -w '\n' 'localhost:8000/db?ms=100&sync=1'   # the blocking driver inside the coroutine
kill %2; wait %2; kill %1          # the server, then the database it holds connections to
