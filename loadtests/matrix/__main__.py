"""``python -m loadtests.matrix``: see :mod:`loadtests.matrix.command`."""

from ..harness.procs import run_main
from .command import main

run_main(main)
