"""The real services the lab starts beside gunicorn: redis-server and Celery workers.

Each is a :class:`~.daemon.Daemon`: a subprocess in its own session, ready when its log
says so (polled with a deadline), stopped and reaped with everything it started.
"""
