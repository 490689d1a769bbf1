. .venv/bin/activate                                  # after `make demo` or `make test`
python -m loadtests.advise --app examples.waiting:app --path /orders/42 \
    --rate 300 --p99 200 --cores 8 --out reports/advise-8-cores   # planned for 8 cores: predicted
WORKER_CLASS=gthread THREADS=8 python -m loadtests.advise --check gunicorn.conf.py \
    --app examples.waiting:app --path /orders/42 --rate 40 --p99 400   # exit 0: met here
