gunicorn -c gunicorn.conf.py -k asgi -b 127.0.0.1:8003 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8003/health   # up?
curl -s localhost:8003/info; echo
# {"pid":3944,"worker_class":"asgi","thread":{"name":"MainThread",...},"greenlet":null,
#  "gevent_patched":false,"switch_interval":0.005,...,"offload":{"backend":"pool","pids":[],"size":2},
#  "event_loop":{"class":"asyncio.unix_events._UnixSelectorEventLoop","library":"asyncio",
#                "debug":false,"slow_callback_duration":0.1,"task":"Task-9"}}
curl -s -w '\n' 'localhost:8003/io?delay=0.2'                      # await asyncio.sleep(0.2)
curl -s -w '\n' 'localhost:8003/io?delay=0.2&blocking=1'           # time.sleep(0.2): the loop waits
curl -s -w '\n' localhost:8003/prime/142702110479723               # is_prime in the coroutine: frozen
curl -s -w '\n' 'localhost:8003/prime/142702110479723?nap=1'       # await asyncio.sleep(0) every 100 000
curl -s -w '\n' 'localhost:8003/prime/142702110479723?thread=1'    # asyncio.to_thread
curl -s -w '\n' localhost:8003/offload/prime/142702110479723       # awaits the offload backend
curl -s -w '\n' 'localhost:8003/hash?mb=64'                        # asyncio.to_thread(hashlib)
curl -N localhost:8003/spin/9999999999999917               # spinner_async: one frame, frozen
curl -N 'localhost:8003/spin/9999999999999917?nap=1'       # spins
kill %1
