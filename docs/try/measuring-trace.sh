TRACE=1 gunicorn -c gunicorn.conf.py -k gthread --threads 4 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust -f loadtests/load/locustfile.py --headless -u 8 -t 10s --tags cpu --host http://127.0.0.1:8000
kill -QUIT %1; wait %1                    # each worker writes traces/requests-<pid>.json
python -m loadtests.timeline traces/      # timeline.png and trace.json beside the folder
