gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --headless -u 20 -t 20s --tags mixed
kill %1
