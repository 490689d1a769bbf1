gunicorn -c gunicorn.conf.py -k gthread -w 1 --threads 4 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/prime/1700000000011        # "cpu": the check's own CPU seconds
locust --headless -u 8 -t 20s --tags cpu --prime-n 1700000000011   # ≈ 1 ÷ S, one core busy
kill %1
