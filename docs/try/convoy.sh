TRACE=1 TRACE_DIR=traces gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --headless -u 50 -t 10s --tags convoy --prime-n 400000000019   # the lesson's check, MIXED_PRIME
kill -QUIT %1; wait %1                  # each worker writes traces/requests-<pid>.json as it exits
python -m loadtests.timeline traces/    # timeline.png and trace.json (open in ui.perfetto.dev)
