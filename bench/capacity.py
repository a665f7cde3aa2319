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

Revocation checks and cache flushes (README "How fast an edit takes effect"). Every warm
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
request writes one API Gateway access log line. Both log groups are subscribed to one Kinesis
stream: bytes in = lines × bytes × gzip ratio, records = lines / lines per record. The stack's
stream is on-demand (the default here): it starts at 4 shards' capacity (4 MB/s, 4,000 records/s)
and adds shards as the traffic needs, ``shards = max(4, ⌈bytes/s ÷ 1 MB/s⌉, ⌈records/s ÷ 1,000⌉)``,
billed per stream-hour and per GB in (each record rounded up to 1 KB) and out (the consumer reads
everything once). With ``--kinesis-shards`` the stream is provisioned: that many shards, billed per
shard-hour and PUT unit, and their 1 MB/s and 1,000 records/s are limits. The audit consumer writes
each record's normalised events with one PutLogEvents call to the record's own log stream, which it
first creates (the stream is what makes a redelivered record idempotent, see
``edgeauth.audit.writer``), so CreateLogStream calls/s = PutLogEvents calls/s = records/s.
CloudWatch Logs ingests the source lines and the normalised audit events.

Audit consumer. Its event source mapping (batch size 100, batching window 1 s, as the stack deploys
it) runs one batch at a time per shard, records one after another: a record costs its CPU
(``--consumer-ms-per-record``, measured, stretched like the authorizer's) plus the wall-clock time
of its two CloudWatch Logs calls (``--consumer-io-ms-per-record``, an estimate: measure yours). So
the consumer keeps up while ``records/s × record time ≤ shards`` (seconds of work per second), a
limit below. Invocations: ``min(records, max(records ÷ batch, shards ÷ window))``, each billed its
records' time rounded up to the millisecond.

Limits. For each limit, ``utilisation = demand / limit`` at the given load and the request rate at
which it would be reached (``rps / utilisation``, all demands scale linearly with rps). The one with
the lowest such rate binds first: API Gateway's account throttle (10,000 rps by default), Lambda's
account concurrency (1,000 by default; scaling adds 1,000 per 10 s per function), Kinesis
(provisioned shards × 1 MB/s and 1,000 records/s in), CreateLogStream and PutLogEvents
(transactions per second per account and Region: 50 and 5,000 by default, both adjustable; check
yours), the audit consumer's throughput (above). At the defaults CreateLogStream's 50/s comes
first: 50 records/s of 50 lines is 2,500 log lines/s, about 2,500 rps of API traffic at a high
cache hit ratio (each access line, plus an audit line per invocation). Ask for more before that.

Monthly cost uses 730 hours. Default prices are us-east-1 list prices as inputs, not facts: check
the current ones. The model ignores free tiers, data transfer, log storage and KMS.
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
GB = 1024**3


@dataclass(frozen=True, slots=True)
class Inputs:
    """The load, the deployment and the measured costs (defaults: bench/latest.md, see README)."""

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
    cold_start_ms: float = 420.0  # measured cold start, one full core (bench row 5)
    overhead_ms: float = 1.0  # runtime overhead per invocation (billed duration beyond our code)
    memory_mb: int = 512  # the stack's (infra/constructs/authorizer.py)
    container_lifetime_s: float = 3600.0
    audit_line_bytes: int = 900
    platform_line_bytes: int = 350  # Lambda START + END + REPORT per invocation
    access_line_bytes: int = 1000
    audit_event_bytes: int = 700  # a normalised audit event in the audit log group
    gzip_ratio: float = 0.15
    lines_per_record: float = 50.0
    consumer_ms_per_record: float = 1.9  # measured CPU per 50-line Kinesis record (bench row 7)
    # wall clock of a record's CreateLogStream + PutLogEvents (two in-Region calls; an estimate)
    consumer_io_ms_per_record: float = 20.0
    consumer_memory_mb: int = 256  # the stack's (infra/constructs/audit_pipeline.py)
    consumer_batch_size: int = 100  # the stack's event source mapping
    consumer_batching_window_s: float = 1.0
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
    kinesis_shard_hour: float = 0.015  # provisioned mode
    kinesis_put_units_per_million: float = 0.014  # provisioned mode: one unit per record ≤ 25 KB
    kinesis_stream_hour: float = 0.04  # on-demand mode
    kinesis_gb_in: float = 0.08  # on-demand mode, records rounded up to 1 KB
    kinesis_gb_out: float = 0.04  # on-demand mode
    logs_ingest_per_gb: float = 0.50


@dataclass(frozen=True, slots=True)
class Limits:
    apigw_rps: float = 10_000.0
    lambda_concurrency: float = 1_000.0
    lambda_scale_per_10s: float = 1_000.0
    kinesis_shards: int | None = None  # provisioned shards; None: the model sizes the stream
    putlogevents_tps: float = 5_000.0
    createlogstream_tps: float = 50.0


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
    consumer_invocations_per_s: float
    consumer_busy: float  # seconds of consumer work per second (its concurrency)
    logs_ingest_gb_month: float
    revocation_checks_per_s: float = 0.0
    revocation_check_read_units_per_s: float = 0.0
    cache_flushes_per_s: float = 0.0
    cost: dict[str, float] = field(default_factory=dict)
    limits: list[Limit] = field(default_factory=list)

    @property
    def monthly_cost(self) -> float:
        return sum(self.cost.values())

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

    consumer_record_ms = (
        inp.consumer_ms_per_record * _stretch(inp.consumer_memory_mb) + inp.consumer_io_ms_per_record
    )
    consumer_busy = records * consumer_record_ms / 1000.0
    consumer_inv = (
        min(records, max(records / inp.consumer_batch_size, shards / inp.consumer_batching_window_s))
        if records > 0
        else 0.0
    )
    consumer_billed_ms = math.ceil(records / consumer_inv * consumer_record_ms) if consumer_inv else 0
    ingest_bytes_per_s = source_bytes + inv * inp.platform_line_bytes + source_lines * inp.audit_event_bytes
    ingest_gb_month = ingest_bytes_per_s * MONTH_SECONDS / GB

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
        **(
            {
                "Kinesis stream (on-demand)": 730 * prices.kinesis_stream_hour,
                "Kinesis data in and out (on-demand)": kinesis_billed_in_gb_month * prices.kinesis_gb_in
                + kinesis_gb_month * prices.kinesis_gb_out,
            }
            if on_demand
            else {
                "Kinesis shards": shards * 730 * prices.kinesis_shard_hour,
                "Kinesis PUT units": records * m / 1e6 * prices.kinesis_put_units_per_million,
            }
        ),
        "audit consumer Lambda": consumer_inv * m / 1e6 * prices.lambda_per_million
        + consumer_inv
        * consumer_billed_ms
        / 1000.0
        * (inp.consumer_memory_mb / 1024)
        * m
        * prices.lambda_gb_second,
        "CloudWatch Logs ingest": ingest_gb_month * prices.logs_ingest_per_gb,
    }
    lims = [
        Limit("API Gateway account throttle (rps)", inp.rps, limits.apigw_rps),
        Limit("Lambda account concurrency", concurrency, limits.lambda_concurrency),
        Limit("Lambda scaling (concurrency added per 10 s)", concurrency, limits.lambda_scale_per_10s),
        Limit("PutLogEvents (calls/s per account)", records, limits.putlogevents_tps),
        Limit("CreateLogStream (calls/s per account)", records, limits.createlogstream_tps),
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
        putlogevents_per_s=records,
        createlogstream_per_s=records,
        consumer_invocations_per_s=consumer_inv,
        consumer_busy=consumer_busy,
        logs_ingest_gb_month=ingest_gb_month,
        revocation_checks_per_s=checks,
        revocation_check_read_units_per_s=check_units,
        cache_flushes_per_s=flushes,
        cost=cost,
        limits=lims,
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
        f"PutLogEvents (audit consumer)     {r.putlogevents_per_s:12,.1f} /s",
        f"CreateLogStream (audit consumer)  {r.createlogstream_per_s:12,.1f} /s",
        f"audit consumer                    {r.consumer_invocations_per_s:12,.1f} invocations/s, "
        f"{r.consumer_busy:,.2f} busy (of {r.kinesis_shards} shard(s))",
        f"CloudWatch Logs ingest            {r.logs_ingest_gb_month:12,.1f} GB/month",
        "",
        "Monthly cost (USD, 730 h):",
    ]
    for name, usd in r.cost.items():
        out.append(f"  {name:34s} {usd:12,.2f}")
    out.append(f"  {'total':34s} {r.monthly_cost:12,.2f}")
    out += ["", "Limits (utilisation at this load; request rate at which each is reached):"]
    for lim in sorted(r.limits, key=lambda x: x.rps_at_limit(inp.rps)):
        out.append(f"  {lim.name:50s} {lim.utilisation:8.1%}  at {lim.rps_at_limit(inp.rps):14,.0f} rps")
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
            if isinstance(default, bool):
                continue
            if isinstance(default, int):
                kind = int
            if f.name in ("kinesis_shards",):
                kind = int
            flag = _flag(f.name.removesuffix("_s"))
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
            if value is None:
                continue
            flag = _flag(f.name.removesuffix("_s"))
            if not math.isfinite(value) or value < 0:
                parser.error(f"{flag} must be a finite number >= 0, not {value}")
            if value == 0 and f.name in _POSITIVE:
                parser.error(f"{flag} must be > 0 (it divides), not {value}")
    return inp, prices, limits


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
