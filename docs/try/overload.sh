gunicorn -c gunicorn.conf.py -k sync &                          # one sync process on 127.0.0.1:8000
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
python -m loadtests.load.openloop 'http://127.0.0.1:8000/prime/400000000019' --closed 4 --duration 5   # its capacity
python -m loadtests.load.openloop 'http://127.0.0.1:8000/prime/400000000019' --phase 25:5 --phase 150:10 --phase 25:30 --timeout 1 --timeline
kill %1
