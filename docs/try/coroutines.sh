gunicorn -c gunicorn.conf.py -k asgi -b 127.0.0.1:8003 &
curl -s --retry 30 --retry-connrefused --retry-delay 1 -o /dev/null localhost:8003/health   # up?
curl -s 'localhost:8003/prime/142702110479723?nap=1'       # await asyncio.sleep(0) every 100 000
curl -s 'localhost:8003/prime/142702110479723?thread=1'    # asyncio.to_thread
curl -N 'localhost:8003/spin/9999999999999917?nap=1'       # spins
kill %1
