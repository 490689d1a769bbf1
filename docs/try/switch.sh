SWITCH_INTERVAL=0.0005 gunicorn -c gunicorn.conf.py -k gthread &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/info       # ... "switch_interval":0.0005 ...
locust --headless -u 3 -t 20s --tags heartbeat
kill %1
