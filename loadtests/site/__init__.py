"""The docs site's generated parts: numbers rendered from the committed samples, never typed.

``python -m loadtests.site`` (``make docs-pages``) rewrites every generated block of the
pages under ``docs/`` -- each lesson's measured section and chart, the lessons' index,
the sample table, the command lines' ``--help`` -- from ``docs/sample/*/results.json``
and the code; ``--check`` only reports the pages that differ (a test runs it).
"""
