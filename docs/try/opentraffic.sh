gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 4 &       # 8 threads on 127.0.0.1:8000
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
python -m loadtests.load.openloop 'http://127.0.0.1:8000/io?delay=0.02' --rate 190 --duration 20 --by pid
kill %1
