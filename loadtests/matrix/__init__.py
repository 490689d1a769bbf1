"""The matrix: cells (a scenario, a server spec, users), each run and judged by its bound.

``python -m loadtests.matrix`` (:mod:`.command`) picks the cells of a preset
(:mod:`.presets`, derived from the lessons), runs each (:mod:`.runner`), aggregates
repeats (:mod:`.repeats`) and writes the report (:mod:`.report`, :mod:`.charts`).
A cell's bound is :mod:`.bounds`, which applies the pure model (:mod:`loadtests.model`).
"""
