gunicorn -c gunicorn.conf.py -k gevent &                       # a server on 127.0.0.1:8000
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
locust --headless -u 100 -t 30s --tags io --processes 2        # two load-generator processes
locust --headless -u 100 -t 30s --tags io                      # one scenario (locust.conf has the defaults)
locust --headless -u 3 -t 30s CpuUser HeartbeatUser            # the same by class name
locust --headless -u 8 -t 30s --tags cpu --prime-n 299593572317531
kill %1                                   # after a one-process run: --processes' children outlive their master for a moment
