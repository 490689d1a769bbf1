"""The workload, pure: no Flask, Starlette or gunicorn -- the book's prime check (and its
napping variant), hashing that releases the GIL, the spinner, and the bodies of
``/download`` and ``/upload``."""
