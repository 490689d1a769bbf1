REUSE_PORT=1 gunicorn -c gunicorn.conf.py -k gevent -w 2 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --headless -u 8 -t 20s --tags cpu --prime-n 1700000000011
kill %1
