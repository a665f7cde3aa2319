"""The audit trail: event schema, subscription decoding, batching, the log writer and saved queries.

Map of the package (what lives where):

* :mod:`edgeauth.audit.schema`: the versioned audit event (``decision``, ``access``, ``role_change``,
  ``malformed``), its stable ids, normalisation of source lines and the ``role_change`` builder. Pure.
* :mod:`edgeauth.audit.subscription`: decoding of CloudWatch Logs subscription payloads
  (base64 → gzip → JSON) as delivered through Kinesis. Pure.
* :mod:`edgeauth.audit.batching`: splitting events into ``PutLogEvents`` calls within the service
  limits. Pure.
* :mod:`edgeauth.audit.consumer`: one Kinesis record → audit events → writer. Pure (the writer is
  injected).
* :mod:`edgeauth.audit.writer`: :class:`~edgeauth.audit.writer.AuditLogWriter`, the only code here
  that talks to CloudWatch Logs; idempotent per log stream.
* :mod:`edgeauth.audit.queries`: the saved Logs Insights queries shared by the CDK app and the CLI.
* :mod:`edgeauth.audit.bench`: a CPU cost benchmark of the consumer.
"""
