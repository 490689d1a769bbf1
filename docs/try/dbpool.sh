python -m loadtests.services.postgres &          # a lab cluster: DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab
DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab DB_POOL_SIZE=4 gunicorn -c gunicorn.conf.py -k gthread --threads 16 &
curl -sf --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null 'localhost:8000/db?ms=1'   # up, and the database? (-f: a 503 is retried)
locust --headless -u 20 -t 20s --tags db        # ≈ 4 ÷ 0.1 s = 40 rps
kill %2; wait %2; kill %1          # the server, then the database it holds connections to
