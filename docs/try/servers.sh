uvicorn webapp.asgi:app --port 8001 --workers 2 &                      # unbounded slots
granian --interface wsgi --blocking-threads 8 --port 8002 webapp.wsgi:app &   # 8 slots
waitress-serve --listen=127.0.0.1:8003 --threads=4 webapp.wsgi:app &   # 4 slots
for port in 8001 8002 8003; do curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:$port/health; done   # up?
curl -s localhost:8001/prime/abc; curl -s localhost:8003/prime/abc     # the same 400 JSON
locust --headless -u 50 -t 20s --tags io -H http://127.0.0.1:8001      # bound 500 rps; less (Nagle, above)
locust --headless -u 50 -t 20s --tags io -H http://127.0.0.1:8002      # bound: 8 slots ÷ 0.1 s = 80 rps
locust --headless -u 50 -t 20s --tags io -H http://127.0.0.1:8003      # bound: 4 slots ÷ 0.1 s = 40 rps
kill %1 %2 %3      # waitress has no SIGTERM handler: it dies at once (nothing is in flight now)
