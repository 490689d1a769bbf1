"""The advisor: the lab's model and measurement turned on your own WSGI or ASGI app.

    python -m loadtests.advise --app package.module:app --path /endpoint [--path ...]

Five steps, one module each: :mod:`.target` (does it import, which kind), :mod:`.profile`
(R, S_cpu and memory per path on one worker; does it serve under each model),
:mod:`.predict` (each configuration's ceiling on this machine's cores), :mod:`.measure`
(the best few, and gunicorn's default advice, under Locust) and :mod:`.recommend`
(the choice and its reasons); :mod:`.output` writes ``reports/advise-<timestamp>/``.
"""
