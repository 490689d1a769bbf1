GEVENT_MONITOR_THREAD_ENABLE=true GEVENT_MONITOR_PRINT_BLOCKING_REPORTS=false \
  gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/prime/9999999999999917 >/dev/null   # the log shows about a dozen "hub blocked" lines
kill %1
