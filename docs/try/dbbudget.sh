python -m loadtests.services.postgres --max-connections 13 &   # 10 for the app's role (3 kept for superusers)
DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab DB_DRIVER=psycopg2 DB_POOL_SIZE=10 REUSE_PORT=1 \
    gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 10 &   # wants 2 × 10
curl -sf --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null 'localhost:8000/db?ms=1'   # up, and the database?
locust --headless -u 20 -t 20s --tags db --exit-code-on-error 0   # failures, each a 503 JSON: 'too many clients'
kill %2; wait %2                   # its connections closed
DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab DB_DRIVER=psycopg2 DB_POOL_SIZE=5 REUSE_PORT=1 \
    gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 10 &   # wants 2 × 5: fits
curl -sf --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null 'localhost:8000/db?ms=1'
locust --headless -u 20 -t 20s --tags db                          # none failed
kill %2; wait %2; kill %1       # the second server is job 2 now
