"""The audit trail: event schema, subscription decoding, batching, exactly-once writing, saved queries.

Map of the package (what lives where):

* :mod:`edgeauth.audit.schema`: the versioned audit event (``decision``, ``access``, ``role_change``,
  ``malformed``), its stable ids, normalisation of source lines (a line's kind from its log group:
  :class:`~edgeauth.audit.schema.AuditSources`) and the ``role_change`` builder. Pure.
* :mod:`edgeauth.audit.subscription`: decoding of CloudWatch Logs subscription payloads
  (base64 → gzip → JSON) as delivered through Kinesis. Pure.
* :mod:`edgeauth.audit.batching`: ``PutLogEvents`` calls within the service limits. Pure.
* :mod:`edgeauth.audit.consumer`: a batch of Kinesis records → audit events → the shard sink. Pure
  (the sink is injected).
* :mod:`edgeauth.audit.shard_writer`: exactly once per Kinesis shard (one log stream and one
  checkpoint per shard); the design, its guarantee and the duplicates it cannot rule out.
* :mod:`edgeauth.audit.checkpoint`: the per-shard checkpoint on DynamoDB (conditional writes).
* :mod:`edgeauth.audit.writer`: :class:`~edgeauth.audit.writer.AuditLogWriter`, the only code here
  that talks to CloudWatch Logs.
* :mod:`edgeauth.audit.replay`: re-driving dead-lettered ranges (``edgeauth audit replay``).
* :mod:`edgeauth.audit.queries`: the saved Logs Insights queries shared by the CDK app and the CLI.
* :mod:`edgeauth.audit.bench`: a CPU cost benchmark of the consumer.
"""
