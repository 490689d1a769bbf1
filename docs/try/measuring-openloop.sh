gunicorn -c gunicorn.conf.py -k gevent &                       # a server on 127.0.0.1:8000
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
python -m loadtests.load.openloop 'http://127.0.0.1:8000/io?delay=0.1' --rate 150 --duration 20
python -m loadtests.load.openloop 'http://127.0.0.1:8000/io?delay=0.1' --closed 15 --duration 20
python -m loadtests.load.openloop 'http://127.0.0.1:8000/health' --rate 150 --duration 20 --schedule constant --json
gunicorn -c gunicorn.conf.py -k sync -b 127.0.0.1:8001 &       # one process: about 50 primes a second
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8001/health
python -m loadtests.load.openloop 'http://127.0.0.1:8001/prime/400000000019' --phase 20:5 --phase 150:10 --phase 20:10 --timeout 1 --timeline
kill %1 %2
