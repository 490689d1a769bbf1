python -m loadtests.services.postgres &          # a lab cluster: DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab
DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab DB_DRIVER=psycopg2 gunicorn -c gunicorn.conf.py -k gevent &
curl -sf --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null 'localhost:8000/db?ms=1'   # up, and the database? (-f: a 503 is retried)
for i in 1 2 3 4 5; do curl -s -o /dev/null 'localhost:8000/db?ms=200' & done   # five 200 ms queries
time curl -s localhost:8000/health      # waits behind them: 5 × 200 ms, one after another
wait %3 %4 %5 %6 %7                     # the five queries
kill %2; wait %2; kill %1          # the server, then the database it holds connections to
