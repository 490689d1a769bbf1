gunicorn -c gunicorn.conf.py -k gthread -w 1 --threads 4 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s 'localhost:8000/hash?mb=64'
locust --headless -u 4 -t 20s --tags gilfree      # both cores busy from one process
kill %1
