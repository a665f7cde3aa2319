"""One construct per concern; :mod:`infra.stack` composes them.

Each construct validates nothing itself (:mod:`infra.config` did), creates secure defaults, and
exposes what it creates as read-only attributes for the stack, the other constructs and the tests.
"""
