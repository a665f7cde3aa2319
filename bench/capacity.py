"""Capacity and cost model: what a given load costs on AWS and which limit it hits first.

``python -m bench.capacity --rps 2000 --clients 5000 --token-lifetime 3600`` prints the derived
figures; every input, measured cost and unit price is a flag (``--help``). The arithmetic, with
:func:`model` as its single entry point (tested on hand-computed cases in
``tests/unit/test_capacity.py``):

Authorizer invocations. API Gateway caches the authorizer's answer per identity-source values:
(token, method, resource template). Unless ``--cache-hit`` is given, the hit ratio is derived:
``keys = clients × routes`` cache keys are live at a time, each requested at ``λ = rps / keys`` per
second; an entry lives ``W = min(cache TTL, token lifetime)`` seconds (a new token is a new key), so
with Poisson arrivals each key misses ``λ / (1 + λ·W)`` times per second (one miss, then hits for
``W`` seconds). ``invocations = rps × (1 − hit)``.

Duration and concurrency. Lambda gives a function CPU in proportion to its memory (one full vCPU at
1,769 MB), so a CPU-bound cost measured on a full core is stretched by ``max(1, 1769 / memory)``;
``duration = decision × stretch + overhead``, billed rounded up to the millisecond. Concurrency by
Little's law: ``invocations × duration``. Containers live ``--container-lifetime`` on average, so
``cold starts/s = concurrency / lifetime``; each costs ``cold start × stretch`` of billed init.

Role table reads. A container caches a principal's resolved roles for ``--role-cache-ttl`` and every
item it read, so a container re-reads a principal at most once per TTL: ``resolutions/s =
min(invocations, clients × containers / ttl)`` (containers = concurrency, at least 1), each one
BatchGetItem of the subject and client items plus one per inheritance level for the role items;
role items are shared by every principal in a container: ``role item reads/s = min(resolutions ×
roles per principal, roles × containers / ttl)``. Strongly consistent reads of items ≤ 4 KB cost
1 read request unit each (an item read just after a change must not be the version before it).

Revocation checks and cache flushes (docs/roles.md "How fast an edit takes effect"). Every warm
authorizer container reads the role table's change log at most once every ``--revocation-check``
seconds, on a request that finds the look due: ``checks/s = min(invocations, containers ÷
interval)``, each a strongly consistent GetItem of an item under 4 KB: 1 read unit. (Role item
reads are strongly consistent too: 1 read unit each, above.) Each batch of role edits
(``--role-edit-batch-rate``, per second) flushes the stage's authorizer cache at most twice, and under
a steady stream about once (the debounce): ``flushes/s = min(2 × batches, 1 ÷ (interval + 1))``.
A flush ends every cached answer, so an answer lives ``W = min(cache TTL, token lifetime, 1 ÷
flushes/s)`` in the hit ratio below. The role-events function's own change log read and write (1
read unit and at most 4 write units per batch) are left out.

Audit volume. Every invocation writes one audit line (and Lambda's START/END/REPORT lines); every
request writes one API Gateway access log line (the compact format by default, about 460 bytes).
Both log groups are subscribed to one Kinesis stream: bytes in = lines × bytes × gzip ratio,
records = lines / lines per record. The stack's stream is on-demand (the default here): it starts at
4 shards' capacity (4 MB/s, 4,000 records/s) and adds shards as the traffic needs,
``shards = max(4, ⌈bytes/s ÷ 1 MB/s⌉, ⌈records/s ÷ 1,000⌉)``, billed per stream-hour and per GB in
(each record rounded up to 1 KB) and out (the consumer reads everything once), plus extended
retention past 24 hours per GB stored. With ``--kinesis-shards`` the stream is provisioned: that many
shards, billed per shard-hour (plus extended retention per shard-hour) and PUT unit, and their
1 MB/s and 1,000 records/s are limits. CloudWatch Logs ingests the source lines (Standard class:
they feed subscription and metric filters) and the normalised audit events (one per line, in the
audit log group's class, Infrequent Access by default: half the price).

Audit consumer (``edgeauth.audit.shard_writer``). Its event source mapping (batch size 100,
batching window 1 s, as the stack deploys it) runs one batch at a time per shard. A batch costs its
records' CPU (``--consumer-ms-per-record``, measured by ``make bench`` row 7, stretched like the
authorizer's), its ``PutLogEvents`` calls (``⌈batch bytes ÷ 1 MB⌉``, ``--consumer-put-ms`` each: an
estimate) and two checkpoint writes (intent and commit, ``--consumer-checkpoint-ms`` each). It reads
nothing back on this path and creates each shard's log stream once. Batches per second:
``min(records, max(records ÷ batch, shards ÷ window))``. The consumer keeps up while its busy time,
``batches/s × batch time``, stays within one batch at a time per shard (a limit below; Random
subscription distribution spreads the load evenly). Recovery (a redelivered batch after a crash,
``make bench`` row 7c) waits at most one lease plus the settle time (4 s), reads one window back and
writes what is missing: :func:`recovery_seconds`.

Limits, each an AWS quota with its default (check Service Quotas for an account's values). For each,
``utilisation = demand / limit`` at the given load and the request rate at which it would be reached
(``rps / utilisation``: every demand scales linearly with rps). The one with the lowest such rate binds
first.

=======================================  ==============================  ==========  ================
quota                                    default                         adjustable  demand here
=======================================  ==============================  ==========  ================
API Gateway account throttle             10,000 rps per Region           yes         rps
Lambda concurrent executions             1,000 per Region                yes         authorizer +
                                                                                     consumer
Lambda scaling rate                      +1,000 per 10 s per function    no          authorizer
Kinesis on-demand stream write           200 MB/s, 200,000 records/s     yes         bytes, records
Kinesis provisioned shard write          1 MB/s, 1,000 records/s         no (add     bytes, records
                                         per shard                       shards)
CloudWatch Logs PutLogEvents             5,000 calls/s per account       yes         consumer calls
                                         and Region
CloudWatch Logs CreateLogStream          50 calls/s per account          yes         once per shard
CloudWatch Logs GetLogEvents             25 calls/s per account          no          recovery only
DynamoDB on-demand table writes          40,000 write units/s per table  yes         2 per batch
DynamoDB writes per partition (item)     1,000 write units/s             no          per shard item
=======================================  ==============================  ==========  ================

plus the consumer's own throughput (busy time ≤ shards). ``PutLogEvents`` also caps one call at
1,048,576 bytes and 10,000 events (not adjustable): the consumer sizes its calls within them.

Monthly cost uses 730 hours. Default prices are us-east-1 list prices as inputs, not facts: check
the current ones. The model ignores free tiers, data transfer, log storage and KMS. The audit trail's
cost (CloudWatch Logs ingestion of the source lines and of the audit events, Kinesis, the consumer,
its checkpoint table) is also printed per million API requests, beside
:data:`PREVIOUS_AUDIT_COST_PER_MILLION`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

MONTH_SECONDS = 730 * 3600
FULL_VCPU_MB = 1769
KINESIS_SHARD_BYTES_PER_S = 1_000_000  # 1 MB/s in per shard (MB = 10^6 bytes in AWS's quotas)
KINESIS_SHARD_RECORDS_PER_S = 1_000
KINESIS_ON_DEMAND_MIN_SHARDS = 4  # an on-demand stream's initial capacity: 4 MB/s, 4,000 records/s
READ_UNITS_PER_ITEM = 1.0  # strongly consistent, item ≤ 4 KB (the role store's reads)
PUT_LOG_EVENTS_MAX_BYTES = 1_048_576  # per call, 26 bytes counted per event (not adjustable)
PUT_LOG_EVENTS_MAX_EVENTS = 10_000
PUT_LOG_EVENT_OVERHEAD = 26
CHECKPOINT_WRITES_PER_BATCH = 2  # the intent and the commit (edgeauth.audit.shard_writer)
RECOVERY_MAX_WAIT_S = 4.0  # a dead writer's lease (3 s) + the settle time (1 s)
GB = 1024**3

PREVIOUS_AUDIT_COST_PER_MILLION = 4486.35 / (2000 * MONTH_SECONDS / 1e6)
"""The audit trail's cost per million requests before the redesign (one log stream per Kinesis
record, Standard class, the full access log format, audit events version 1), from the
previous worked example of docs/benchmarks.md at 2,000 rps: CloudWatch Logs ingestion 4,351.68 + Kinesis 29.20 + 91.28 +
audit consumer 14.19 = 4,486.35 USD a month for 5,256 million requests: about 0.854 USD."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The load, the deployment and the measured costs (defaults: bench/latest.md, see docs/benchmarks.md)."""

    rps: float = 1000.0
    cache_hit: float | None = None  # None: derived from clients, routes, cache TTL, token lifetime
    clients: int = 1000
    routes_per_client: int = 5
    token_lifetime_s: float = 3600.0
    cache_ttl_s: float = 300.0
    roles: int = 100
    roles_per_principal: int = 3
    inheritance_levels: int = 1
    role_cache_ttl_s: float = 30.0
    decision_ms: float = 0.085  # measured CPU per new-token decision, one full core (bench row 3)
    # A cold start's billed time, one full core. Row 5 reads 0.1-0.3 s on the benchmark machines, over
    # loopback: no TLS context or handshake, no Region round trip to DynamoDB or the identity
    # provider's JWKS. Kept at the 420 ms row 5 read before boto3 left the path: an upper estimate.
    cold_start_ms: float = 420.0
    overhead_ms: float = 1.0  # runtime overhead per invocation (billed duration beyond our code)
    memory_mb: int = 512  # the stack's (infra/constructs/authorizer.py)
    container_lifetime_s: float = 3600.0
    # Sizes in bytes, measured on a typical request (tests/unit/test_capacity.py checks them):
    audit_line_bytes: int = 990  # the authorizer's decision line (with its EMF block)
    platform_line_bytes: int = 350  # Lambda START + END + REPORT per invocation
    access_line_bytes: int = 460  # an access log line in the compact format
    access_event_bytes: int = 610  # its normalised audit event (version 2)
    decision_event_bytes: int = 570  # a decision line's normalised audit event (version 2)
    gzip_ratio: float = 0.15
    lines_per_record: float = 50.0
    consumer_ms_per_record: float = 1.7  # measured CPU per 50-line Kinesis record (bench row 7)
    consumer_put_ms: float = 40.0  # wall clock of one PutLogEvents call of up to 1 MB (an estimate)
    consumer_checkpoint_ms: float = 10.0  # wall clock of one checkpoint PutItem (an estimate)
    consumer_read_page_ms: float = 60.0  # wall clock of one GetLogEvents page (recovery only)
    consumer_memory_mb: int = 1024  # the stack's (infra/constructs/audit_pipeline.py)
    consumer_timeout_s: float = 60.0  # the stack's
    consumer_batch_size: int = 100  # the stack's event source mapping
    consumer_batching_window_s: float = 1.0
    kinesis_retention_hours: float = 168.0  # the stack's default (audit_stream_retention_hours)
    audit_log_class: str = "INFREQUENT_ACCESS"  # the stack's default (audit_log_class)
    # -- revocation checks and cache flushes (the change log: edgeauth.core.changes) --
    revocation_check_s: float = 2.0  # the stack's revocation_check_seconds
    role_edit_batch_rate: float = 0.0  # batches of role-table edits the role-events function handles


@dataclass(frozen=True, slots=True)
class Prices:
    """USD unit prices (us-east-1 list prices when written; inputs, check the current ones)."""

    apigw_per_million: float = 3.50
    lambda_per_million: float = 0.20
    lambda_gb_second: float = 0.0000133334  # arm64
    dynamodb_read_units_per_million: float = 0.125  # on-demand read request units
    dynamodb_write_units_per_million: float = 0.625  # on-demand write request units
    kinesis_shard_hour: float = 0.015  # provisioned mode
    kinesis_put_units_per_million: float = 0.014  # provisioned mode: one unit per record ≤ 25 KB
    kinesis_extended_retention_shard_hour: float = 0.02  # provisioned mode, past 24 h
    kinesis_stream_hour: float = 0.04  # on-demand mode
    kinesis_gb_in: float = 0.08  # on-demand mode, records rounded up to 1 KB
    kinesis_gb_out: float = 0.04  # on-demand mode
    kinesis_extended_retention_gb_month: float = 0.10  # on-demand mode, data kept past 24 h
    logs_ingest_per_gb: float = 0.50  # Standard class
    logs_ingest_infrequent_access_per_gb: float = 0.25  # Infrequent Access class


@dataclass(frozen=True, slots=True)
class Limits:
    """AWS quotas, defaults (see the module docstring's table: which are adjustable)."""

    apigw_rps: float = 10_000.0
    lambda_concurrency: float = 1_000.0
    lambda_scale_per_10s: float = 1_000.0
    kinesis_shards: int | None = None  # provisioned shards; None: the model sizes the stream
    kinesis_on_demand_bytes_per_s: float = 200_000_000.0
    kinesis_on_demand_records_per_s: float = 200_000.0
    putlogevents_tps: float = 5_000.0
    createlogstream_tps: float = 50.0
    getlogevents_tps: float = 25.0
    dynamodb_table_write_units: float = 40_000.0
    dynamodb_partition_write_units: float = 1_000.0


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    demand: float
    limit: float

    @property
    def utilisation(self) -> float:
        return self.demand / self.limit if self.limit > 0 else math.inf

    def rps_at_limit(self, rps: float) -> float:
        return rps / self.utilisation if self.utilisation > 0 else math.inf


AUDIT_COST_ITEMS = (
    "CloudWatch Logs ingest, source lines",
    "CloudWatch Logs ingest, audit events",
    "Kinesis stream (on-demand)",
    "Kinesis data in and out (on-demand)",
    "Kinesis extended retention",
    "Kinesis shards",
    "Kinesis PUT units",
    "audit consumer Lambda",
    "audit checkpoint writes",
)
"""The cost lines that make up the audit trail's cost."""


@dataclass(slots=True)
class Result:
    cache_hit: float
    invocations_per_s: float
    duration_ms: float
    billed_ms: int
    concurrency: float
    cold_starts_per_s: float
    resolutions_per_s: float
    dynamodb_batch_calls_per_s: float
    dynamodb_items_per_s: float
    dynamodb_read_units_per_s: float
    log_lines_per_s: float
    kinesis_bytes_per_s: float
    kinesis_records_per_s: float
    kinesis_shards: int
    kinesis_on_demand: bool
    putlogevents_per_s: float
    createlogstream_per_s: float
    checkpoint_writes_per_s: float
    consumer_invocations_per_s: float
    consumer_batch_ms: float
    consumer_busy: float  # seconds of consumer work per second (its concurrency)
    logs_ingest_gb_month: float
    audit_events_gb_month: float
    revocation_checks_per_s: float = 0.0
    revocation_check_read_units_per_s: float = 0.0
    cache_flushes_per_s: float = 0.0
    cost: dict[str, float] = field(default_factory=dict)
    limits: list[Limit] = field(default_factory=list)
    rps: float = 0.0

    @property
    def monthly_cost(self) -> float:
        return sum(self.cost.values())

    @property
    def audit_cost(self) -> float:
        """The audit trail's monthly cost (:data:`AUDIT_COST_ITEMS`)."""
        return sum(v for k, v in self.cost.items() if k in AUDIT_COST_ITEMS)

    @property
    def audit_cost_per_million(self) -> float:
        """The audit trail's cost per million API requests."""
        requests = self.rps * MONTH_SECONDS / 1e6
        return self.audit_cost / requests if requests > 0 else 0.0

    def binding(self, rps: float) -> Limit:
        """The limit reached at the lowest request rate."""
        return min(self.limits, key=lambda lim: lim.rps_at_limit(rps))


def derived_cache_hit(rps: float, keys: float, window_s: float) -> float:
    """Hit ratio of a TTL cache over ``keys`` equally popular keys (Poisson arrivals)."""
    if rps <= 0 or keys <= 0:
        return 0.0
    lam = rps / keys
    misses = keys * lam / (1.0 + lam * window_s)
    return 1.0 - misses / rps


def _stretch(memory_mb: float) -> float:
    """How much longer CPU-bound work takes at ``memory_mb`` than on one full vCPU."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def model(inp: Inputs, prices: Prices | None = None, limits: Limits | None = None) -> Result:
    prices = prices or Prices()
    limits = limits or Limits()
    flushes = min(2.0 * inp.role_edit_batch_rate, 1.0 / (inp.revocation_check_s + 1.0))
    if inp.cache_hit is not None:
        hit = inp.cache_hit
    else:
        window = min(inp.cache_ttl_s, inp.token_lifetime_s, 1.0 / flushes if flushes > 0 else math.inf)
        hit = derived_cache_hit(inp.rps, inp.clients * inp.routes_per_client, window)
    inv = inp.rps * (1.0 - hit)
    stretch = _stretch(inp.memory_mb)
    duration_ms = inp.decision_ms * stretch + inp.overhead_ms
    billed_ms = math.ceil(duration_ms)
    concurrency = inv * duration_ms / 1000.0
    containers = max(1.0, math.ceil(concurrency))
    cold_per_s = containers / inp.container_lifetime_s
    cold_ms = inp.cold_start_ms * stretch

    resolutions = min(inv, inp.clients * containers / inp.role_cache_ttl_s)
    role_item_reads = min(
        resolutions * inp.roles_per_principal, inp.roles * containers / inp.role_cache_ttl_s
    )
    items = resolutions * 2 + role_item_reads  # subject + client items, then roles
    batch_calls = resolutions * (1 + inp.inheritance_levels)
    read_units = items * READ_UNITS_PER_ITEM
    checks = min(inv, containers / inp.revocation_check_s)
    check_units = checks * READ_UNITS_PER_ITEM  # the change log item stays under 4 KB

    source_lines = inv + inp.rps  # audit lines + access lines (platform lines are not subscribed)
    source_bytes = inv * inp.audit_line_bytes + inp.rps * inp.access_line_bytes
    kinesis_bytes = source_bytes * inp.gzip_ratio
    records = source_lines / inp.lines_per_record
    on_demand = limits.kinesis_shards is None
    if limits.kinesis_shards is None:
        shards = max(
            KINESIS_ON_DEMAND_MIN_SHARDS,
            math.ceil(kinesis_bytes / KINESIS_SHARD_BYTES_PER_S),
            math.ceil(records / KINESIS_SHARD_RECORDS_PER_S),
        )
    else:
        shards = limits.kinesis_shards
    kinesis_gb_month = kinesis_bytes * MONTH_SECONDS / GB
    kinesis_billed_in_gb_month = max(kinesis_bytes, records * 1024) * MONTH_SECONDS / GB
    extra_retention_h = max(0.0, inp.kinesis_retention_hours - 24.0)
    kinesis_stored_gb = kinesis_bytes * extra_retention_h * 3600 / GB  # kept past 24 h, at any time

    # The consumer: batches per shard, each its records' CPU, its PutLogEvents calls and two
    # checkpoint writes (edgeauth.audit.shard_writer).
    event_bytes = inp.rps * inp.access_event_bytes + inv * inp.decision_event_bytes
    events = source_lines
    batches = (
        min(records, max(records / inp.consumer_batch_size, shards / inp.consumer_batching_window_s))
        if records > 0
        else 0.0
    )
    if batches > 0:
        per_batch_bytes = (event_bytes + events * PUT_LOG_EVENT_OVERHEAD) / batches
        calls_per_batch = max(
            1,
            math.ceil(per_batch_bytes / PUT_LOG_EVENTS_MAX_BYTES),
            math.ceil(events / batches / PUT_LOG_EVENTS_MAX_EVENTS),
        )
        batch_ms = (
            records / batches * inp.consumer_ms_per_record * _stretch(inp.consumer_memory_mb)
            + calls_per_batch * inp.consumer_put_ms
            + CHECKPOINT_WRITES_PER_BATCH * inp.consumer_checkpoint_ms
        )
    else:
        calls_per_batch, batch_ms = 0, 0.0
    put_calls = batches * calls_per_batch
    checkpoint_writes = batches * CHECKPOINT_WRITES_PER_BATCH
    consumer_busy = batches * batch_ms / 1000.0
    consumer_billed_ms = math.ceil(batch_ms)
    source_ingest = source_bytes + inv * inp.platform_line_bytes
    source_gb_month = source_ingest * MONTH_SECONDS / GB
    events_gb_month = event_bytes * MONTH_SECONDS / GB
    events_price = (
        prices.logs_ingest_infrequent_access_per_gb
        if inp.audit_log_class == "INFREQUENT_ACCESS"
        else prices.logs_ingest_per_gb
    )

    m = MONTH_SECONDS
    cost = {
        "API Gateway requests": inp.rps * m / 1e6 * prices.apigw_per_million,
        "authorizer Lambda requests": inv * m / 1e6 * prices.lambda_per_million,
        "authorizer Lambda compute": (inv * billed_ms + cold_per_s * math.ceil(cold_ms))
        / 1000.0
        * (inp.memory_mb / 1024)
        * m
        * prices.lambda_gb_second,
        "DynamoDB reads": read_units * m / 1e6 * prices.dynamodb_read_units_per_million,
        "DynamoDB revocation checks": check_units * m / 1e6 * prices.dynamodb_read_units_per_million,
        "CloudWatch Logs ingest, source lines": source_gb_month * prices.logs_ingest_per_gb,
        "CloudWatch Logs ingest, audit events": events_gb_month * events_price,
        **(
            {
                "Kinesis stream (on-demand)": 730 * prices.kinesis_stream_hour,
                "Kinesis data in and out (on-demand)": kinesis_billed_in_gb_month * prices.kinesis_gb_in
                + kinesis_gb_month * prices.kinesis_gb_out,
                "Kinesis extended retention": kinesis_stored_gb * prices.kinesis_extended_retention_gb_month,
            }
            if on_demand
            else {
                "Kinesis shards": shards * 730 * prices.kinesis_shard_hour,
                "Kinesis PUT units": records * m / 1e6 * prices.kinesis_put_units_per_million,
                "Kinesis extended retention": (
                    shards * 730 * prices.kinesis_extended_retention_shard_hour if extra_retention_h else 0.0
                ),
            }
        ),
        "audit consumer Lambda": batches * m / 1e6 * prices.lambda_per_million
        + batches
        * consumer_billed_ms
        / 1000.0
        * (inp.consumer_memory_mb / 1024)
        * m
        * prices.lambda_gb_second,
        "audit checkpoint writes": checkpoint_writes * m / 1e6 * prices.dynamodb_write_units_per_million,
    }
    lims = [
        Limit("API Gateway account throttle (rps)", inp.rps, limits.apigw_rps),
        Limit("Lambda account concurrency", concurrency + consumer_busy, limits.lambda_concurrency),
        Limit("Lambda scaling (concurrency added per 10 s)", concurrency, limits.lambda_scale_per_10s),
        Limit("PutLogEvents (calls/s per account)", put_calls, limits.putlogevents_tps),
        # Once per shard, ever: a new shard every hour would be 1/3600 calls/s.
        Limit("CreateLogStream (calls/s per account)", 0.0, limits.createlogstream_tps),
        Limit("GetLogEvents (calls/s per account; recovery only)", 0.0, limits.getlogevents_tps),
        Limit(
            "DynamoDB checkpoint table (write units/s)", checkpoint_writes, limits.dynamodb_table_write_units
        ),
        Limit(
            "DynamoDB checkpoint item (write units/s per shard)",
            checkpoint_writes / shards if shards else 0.0,
            limits.dynamodb_partition_write_units,
        ),
        Limit("audit consumer (one batch at a time per shard)", consumer_busy, shards),
    ]
    if limits.kinesis_shards is not None:
        lims.append(
            Limit(
                "Kinesis bytes in (provisioned shards × 1 MB/s)",
                kinesis_bytes,
                limits.kinesis_shards * KINESIS_SHARD_BYTES_PER_S,
            )
        )
        lims.append(
            Limit(
                "Kinesis records in (provisioned shards × 1,000/s)",
                records,
                limits.kinesis_shards * KINESIS_SHARD_RECORDS_PER_S,
            )
        )
    else:
        lims.append(
            Limit(
                "Kinesis on-demand stream (bytes in/s)", kinesis_bytes, limits.kinesis_on_demand_bytes_per_s
            )
        )
        lims.append(
            Limit("Kinesis on-demand stream (records in/s)", records, limits.kinesis_on_demand_records_per_s)
        )
    return Result(
        cache_hit=hit,
        invocations_per_s=inv,
        duration_ms=duration_ms,
        billed_ms=billed_ms,
        concurrency=concurrency,
        cold_starts_per_s=cold_per_s,
        resolutions_per_s=resolutions,
        dynamodb_batch_calls_per_s=batch_calls,
        dynamodb_items_per_s=items,
        dynamodb_read_units_per_s=read_units,
        log_lines_per_s=source_lines,
        kinesis_bytes_per_s=kinesis_bytes,
        kinesis_records_per_s=records,
        kinesis_shards=shards,
        kinesis_on_demand=on_demand,
        putlogevents_per_s=put_calls,
        createlogstream_per_s=0.0,
        checkpoint_writes_per_s=checkpoint_writes,
        consumer_invocations_per_s=batches,
        consumer_batch_ms=batch_ms,
        consumer_busy=consumer_busy,
        logs_ingest_gb_month=source_gb_month + events_gb_month,
        audit_events_gb_month=events_gb_month,
        revocation_checks_per_s=checks,
        revocation_check_read_units_per_s=check_units,
        cache_flushes_per_s=flushes,
        cost=cost,
        limits=lims,
        rps=inp.rps,
    )


def recovery_seconds(
    cpu_s: float, get_pages: int, put_calls: int, checkpoint_calls: int, lease_wait_s: float, inp: Inputs
) -> float:
    """How long a measured recovery (``make bench`` row 7c, CPU on a full core and counted calls) takes
    in the stack's consumer: CPU stretched to its memory, each call at its estimated wall clock, plus
    what it waited for a dead writer's lease."""
    return (
        cpu_s * _stretch(inp.consumer_memory_mb)
        + get_pages * inp.consumer_read_page_ms / 1000
        + put_calls * inp.consumer_put_ms / 1000
        + checkpoint_calls * inp.consumer_checkpoint_ms / 1000
        + lease_wait_s
    )


def render(inp: Inputs, r: Result) -> str:
    out = [
        f"Load: {inp.rps:,.0f} rps, {inp.clients:,} clients × {inp.routes_per_client} routes, "
        f"tokens live {inp.token_lifetime_s:,.0f} s, authorizer cache TTL {inp.cache_ttl_s:,.0f} s",
        "",
        f"authorizer cache hit ratio        {r.cache_hit:10.2%}"
        + ("" if inp.cache_hit is not None else " (derived)"),
        f"authorizer invocations            {r.invocations_per_s:12,.1f} /s",
        f"duration per invocation           {r.duration_ms:12,.2f} ms (at {inp.memory_mb} MB; billed {r.billed_ms} ms)",
        f"authorizer concurrency            {r.concurrency:12,.2f}",
        f"cold starts                       {r.cold_starts_per_s * 3600:12,.1f} /h",
        f"role resolutions                  {r.resolutions_per_s:12,.1f} /s",
        f"DynamoDB BatchGetItem calls       {r.dynamodb_batch_calls_per_s:12,.1f} /s",
        f"DynamoDB items read               {r.dynamodb_items_per_s:12,.1f} /s "
        f"({r.dynamodb_read_units_per_s:,.1f} read units/s)",
        f"change log checks (revocation)    {r.revocation_checks_per_s:12,.1f} /s "
        f"({r.revocation_check_read_units_per_s:,.1f} read units/s)",
        f"authorizer cache flushes          {r.cache_flushes_per_s * 3600:12,.1f} /h",
        f"log lines to the audit stream     {r.log_lines_per_s:12,.1f} /s",
        f"Kinesis in                        {r.kinesis_bytes_per_s / 1e6:12,.3f} MB/s, "
        f"{r.kinesis_records_per_s:,.1f} records/s → {r.kinesis_shards} shard(s)"
        + (" (on-demand)" if r.kinesis_on_demand else " (provisioned)"),
        f"audit consumer                    {r.consumer_invocations_per_s:12,.1f} batches/s of "
        f"{r.consumer_batch_ms:,.0f} ms, {r.consumer_busy:,.2f} busy (of {r.kinesis_shards} shard(s))",
        f"PutLogEvents (audit consumer)     {r.putlogevents_per_s:12,.1f} /s",
        f"checkpoint writes (DynamoDB)      {r.checkpoint_writes_per_s:12,.1f} /s",
        "CreateLogStream, GetLogEvents         once per shard; recovery only",
        f"CloudWatch Logs ingest            {r.logs_ingest_gb_month:12,.1f} GB/month "
        f"({r.audit_events_gb_month:,.1f} of audit events, {inp.audit_log_class.replace('_', ' ').lower()})",
        "",
        "Monthly cost (USD, 730 h):",
    ]
    for name, usd in r.cost.items():
        out.append(f"  {name:38s} {usd:12,.2f}")
    out.append(f"  {'total':38s} {r.monthly_cost:12,.2f}")
    out.append(
        f"  {'of which the audit trail':38s} {r.audit_cost:12,.2f}  = {r.audit_cost_per_million:.3f} per million"
        f" requests ({r.audit_cost_per_million / PREVIOUS_AUDIT_COST_PER_MILLION:.0%} of the"
        f" {PREVIOUS_AUDIT_COST_PER_MILLION:.3f} before the redesign)"
    )
    out += ["", "Limits (utilisation at this load; request rate at which each is reached):"]
    for lim in sorted(r.limits, key=lambda x: x.rps_at_limit(inp.rps)):
        out.append(f"  {lim.name:52s} {lim.utilisation:8.1%}  at {lim.rps_at_limit(inp.rps):14,.0f} rps")
    b = r.binding(inp.rps)
    out.append(f"\nBinds first: {b.name}, at about {b.rps_at_limit(inp.rps):,.0f} rps.")
    return "\n".join(out)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_args(argv: Sequence[str] | None) -> tuple[Inputs, Prices, Limits]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity",
        description="Capacity and cost model of edgeauth on AWS (see module doc).",
    )
    groups = ((Inputs, "load, deployment, measured costs"), (Prices, "unit prices, USD"), (Limits, "limits"))
    for cls, title in groups:
        g = parser.add_argument_group(title)
        for f in fields(cls):
            default = f.default
            kind: type = float
            flag = _flag(f.name.removesuffix("_s"))
            if isinstance(default, bool):
                continue
            if isinstance(default, str):
                g.add_argument(
                    flag, dest=f.name, choices=_CHOICES[f.name], default=default, help=f"(default {default})"
                )
                continue
            if isinstance(default, int):
                kind = int
            if f.name in ("kinesis_shards",):
                kind = int
            g.add_argument(flag, dest=f.name, type=kind, default=default, help=f"(default {default})")
    ns = vars(parser.parse_args(argv))

    def build(cls: type) -> object:
        return cls(**{f.name: ns[f.name] for f in fields(cls)})

    inp = build(Inputs)
    prices = build(Prices)
    limits = build(Limits)
    assert isinstance(inp, Inputs) and isinstance(prices, Prices) and isinstance(limits, Limits)
    if inp.cache_hit is not None and not 0.0 <= inp.cache_hit <= 1.0:
        parser.error("--cache-hit must be between 0 and 1")
    for obj in (inp, prices, limits):
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is None or isinstance(value, str):
                continue
            flag = _flag(f.name.removesuffix("_s"))
            if not math.isfinite(value) or value < 0:
                parser.error(f"{flag} must be a finite number >= 0, not {value}")
            if value == 0 and f.name in _POSITIVE:
                parser.error(f"{flag} must be > 0 (it divides), not {value}")
    return inp, prices, limits


_CHOICES = {"audit_log_class": ("INFREQUENT_ACCESS", "STANDARD")}

# Inputs the model divides by (or that cannot be zero in a deployment).
_POSITIVE = frozenset(
    {
        "lines_per_record",
        "memory_mb",
        "consumer_memory_mb",
        "consumer_batch_size",
        "consumer_batching_window_s",
        "role_cache_ttl_s",
        "revocation_check_s",
        "container_lifetime_s",
        "kinesis_shards",
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    inp, prices, limits = parse_args(argv)
    print(render(inp, model(inp, prices, limits)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
