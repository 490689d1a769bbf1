gunicorn -c gunicorn.conf.py -w 1 -b 127.0.0.1:8001 &          # sync: one slot
gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8002 &      # gevent: a greenlet per client
for port in 8001 8002; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
for port in 8001 8002; do curl -s --limit-rate 100k -o /dev/null "localhost:$port/download?mb=48" & done   # a slow reader each
sleep 1                                                          # the readers are in
curl -s -m 3 -o /dev/null -w '%{http_code} in %{time_total} s\n' localhost:8001/health || true  # 000 in 3 s: sync is writing to the reader
curl -s -m 3 -o /dev/null -w '%{http_code} in %{time_total} s\n' localhost:8002/health          # 200 at once
kill %1 %2 %3 %4
