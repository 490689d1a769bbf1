gunicorn -c gunicorn.conf.py -k gevent &                       # a server on 127.0.0.1:8000
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
python -m loadtests.load.openloop 'http://127.0.0.1:8000/io?delay=0.1' --rate 150 --duration 20
python -m loadtests.load.openloop 'http://127.0.0.1:8000/io?delay=0.1' --closed 15 --duration 20
python -m loadtests.load.openloop 'http://127.0.0.1:8000/health' --rate 150 --duration 20 --schedule constant --json
kill %1
