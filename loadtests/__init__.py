"""Load tools for the lab: a gunicorn launcher, a probe, Locust scenarios, a matrix runner."""
