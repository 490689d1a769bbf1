gunicorn -c gunicorn.conf.py -w 2 -b 127.0.0.1:8001 &                      # sync: 2 slots
gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8 -b 127.0.0.1:8002 &  # 16 slots
gunicorn -c gunicorn.conf.py -k gevent -b 127.0.0.1:8003 &                   # 1000 slots
for port in 8001 8002 8003; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
locust --headless -u 100 -t 20s --tags io -H http://127.0.0.1:8001           # bound 100 ÷ 0.1 s, 2 slots: 20 rps
locust --headless -u 100 -t 20s --tags io -H http://127.0.0.1:8002           # 16 slots: 160 rps
locust --headless -u 100 -t 20s --tags io -H http://127.0.0.1:8003           # 100 users: 1000 rps
kill %1 %2 %3
