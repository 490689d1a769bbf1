REUSE_PORT=1 gunicorn -c gunicorn.conf.py -k gevent -w 2 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --headless -u 8 -t 20s --tags cpu --prime-n 1700000000011
kill %1
gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8 -b 127.0.0.1:8001 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8001/health   # up?
wrk -t1 -c16 -d3s -s loadtests/load/wrk_split.lua 'http://127.0.0.1:8001/io?delay=0.1'   # "by": answers per worker pid
kill %2
