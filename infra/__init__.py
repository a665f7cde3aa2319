"""The edgeauth CDK app: typed settings, one construct per concern, and the stack that composes them.

Layout (see docs/deploying.md):

* :mod:`infra.config`: the settings of one stage, read from ``cdk.json`` context and validated;
* :mod:`infra.bundling`: the Lambda asset, built locally (no Docker) for Linux arm64;
* :mod:`infra.constructs`: role table, authorizer, API, usage plans, audit pipeline, role events,
  monitoring;
* :mod:`infra.stack`: the one stack, which only composes the constructs and declares outputs;
* :mod:`infra.application`: builds the ``App`` (used by ``app.py`` and by the tests).
"""
