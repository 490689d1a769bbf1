"""What a lesson watches once per run besides its cells: one module per lesson, named for it.

Each is run by its lesson's :class:`~loadtests.lessons.base.Observation`; nothing
outside ``loadtests/lessons`` imports them.
"""
