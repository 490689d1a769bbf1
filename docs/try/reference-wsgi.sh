gunicorn -c gunicorn.conf.py -k gevent &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8000/health   # up?
curl -s localhost:8000/health
# {"status":"ok"}
curl -s localhost:8000/info
# {"pid":1856,"worker_class":"gevent","threads":1,"thread":{"name":"Dummy-1","ident":139691226288256},
#  "greenlet":139691226288256,"gevent_patched":true,"switch_interval":0.005,
#  "python":"3.11.7","implementation":"CPython","cpu_count":2, ...}
curl -s 'localhost:8000/io?delay=0.2'
# {"delay":0.2,"elapsed":0.20035984800000506,"pid":1856}
curl -s localhost:8000/prime/142702110479723
# {"n":142702110479723,"prime":true,"elapsed":0.24851710699999785,"cpu":0.2478,"pid":1856}
curl -s localhost:8000/prime/-1
# {"error": "n must be a non-negative integer, got '-1'", "status": 400}
kill %1
