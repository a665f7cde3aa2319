"""The capacity and cost model's arithmetic, on cases computed by hand (bench/capacity.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bench.capacity import (
    MONTH_SECONDS,
    PREVIOUS_AUDIT_COST_PER_MILLION,
    Inputs,
    Limits,
    Prices,
    derived_cache_hit,
    main,
    model,
    recovery_seconds,
)

# A case small enough to follow with pencil and paper: 1,000 rps, 90 % cache hits, one full vCPU
# (no CPU stretch), 1 ms of decision plus 1 ms of overhead.
BASE = Inputs(
    rps=1000,
    cache_hit=0.9,
    clients=10,
    routes_per_client=1,
    roles=100,
    roles_per_principal=3,
    inheritance_levels=1,
    role_cache_ttl_s=30,
    decision_ms=1.0,
    cold_start_ms=500.0,
    overhead_ms=1.0,
    memory_mb=1769,
    container_lifetime_s=3600,
    audit_line_bytes=900,
    platform_line_bytes=350,
    access_line_bytes=1000,
    access_event_bytes=700,
    decision_event_bytes=600,
    gzip_ratio=0.15,
    lines_per_record=20,
    consumer_ms_per_record=5.0,
    consumer_put_ms=40.0,
    consumer_checkpoint_ms=10.0,
    consumer_memory_mb=1769,
    consumer_batch_size=100,
    consumer_batching_window_s=1.0,
    kinesis_retention_hours=24.0,
    audit_log_class="STANDARD",
)
# BASE's Kinesis: 55 records/s, 163,500 B/s → an on-demand stream's minimum of 4 shards.
# Its consumer: 4 batches/s (the 1 s window on 4 shards) of 13.75 records × 5 ms (full vCPU), one
# PutLogEvents call (760,000 B/s of events ÷ 4 < 1 MB) of 40 ms and two checkpoint writes of 10 ms:
# 68.75 + 40 + 20 = 128.75 ms.


def test_invocations_duration_and_concurrency() -> None:
    r = model(BASE)
    assert r.invocations_per_s == pytest.approx(100.0)  # 1000 × (1 − 0.9)
    assert r.duration_ms == pytest.approx(2.0)  # 1 ms × 1 (full vCPU) + 1 ms
    assert r.concurrency == pytest.approx(0.2)  # 100/s × 0.002 s
    assert r.cold_starts_per_s == pytest.approx(1 / 3600)  # one container, lives an hour


def test_lambda_cpu_stretch_below_a_full_vcpu() -> None:
    r = model(Inputs(rps=100, cache_hit=0.0, decision_ms=0.1, overhead_ms=1.0, memory_mb=512))
    assert r.duration_ms == pytest.approx(0.1 * 1769 / 512 + 1.0)  # 1.3455078125
    assert model(Inputs(memory_mb=3538, decision_ms=1.0, overhead_ms=0.0, cache_hit=0.0)).duration_ms == 1.0


def test_role_table_reads_are_bounded_by_the_container_caches() -> None:
    r = model(BASE)
    # 10 principals re-read at most once per 30 s in the single container: 1/3 resolution per second
    assert r.resolutions_per_s == pytest.approx(10 / 30)
    # role items: min(1/3 × 3 roles, 100 roles / 30 s) = 1 per second
    # items: 2 per resolution (subject + client) + 1 role item per second = 2/3 + 1
    assert r.dynamodb_items_per_s == pytest.approx(2 / 3 + 1)
    assert r.dynamodb_read_units_per_s == pytest.approx(2 / 3 + 1)  # strongly consistent: 1 unit each
    assert r.dynamodb_batch_calls_per_s == pytest.approx(10 / 30 * 2)  # first batch + one level


def test_role_reads_follow_invocations_when_caches_are_cold() -> None:
    # Many principals, few invocations: every invocation resolves its principal.
    r = model(Inputs(rps=10, cache_hit=0.0, clients=1_000_000, roles=10_000, roles_per_principal=2))
    assert r.resolutions_per_s == pytest.approx(10.0)
    assert r.dynamodb_items_per_s == pytest.approx(10 * 2 + 10 * 2)


def test_audit_volume_kinesis_and_logs() -> None:
    r = model(BASE)
    assert r.log_lines_per_s == pytest.approx(1100.0)  # 100 audit lines + 1000 access lines
    assert r.kinesis_bytes_per_s == pytest.approx((100 * 900 + 1000 * 1000) * 0.15)  # 163,500
    assert r.kinesis_records_per_s == pytest.approx(55.0)  # 1100 / 20
    assert r.kinesis_shards == 4 and r.kinesis_on_demand  # on-demand: 4 shards' capacity at least
    provisioned = model(BASE, limits=Limits(kinesis_shards=2))
    assert provisioned.kinesis_shards == 2 and not provisioned.kinesis_on_demand
    source = 1_090_000 + 100 * 350  # source lines + platform lines
    events = 1000 * 700 + 100 * 600  # access and decision events
    assert r.audit_events_gb_month == pytest.approx(events * MONTH_SECONDS / 1024**3)
    assert r.logs_ingest_gb_month == pytest.approx((source + events) * MONTH_SECONDS / 1024**3)


def test_shards_by_bytes_and_by_records() -> None:
    by_bytes = model(
        Inputs(rps=50_000, cache_hit=1.0, gzip_ratio=0.15, lines_per_record=100, access_line_bytes=1000)
    )
    assert by_bytes.kinesis_bytes_per_s == pytest.approx(7_500_000)  # 50,000 × 1,000 B × 0.15
    assert by_bytes.kinesis_shards == 8  # ⌈7.5 MB/s ÷ 1 MB/s⌉; records: 500/s
    by_records = model(Inputs(rps=50_000, cache_hit=1.0, gzip_ratio=0.001, lines_per_record=10))
    assert by_records.kinesis_shards == 5  # ⌈5,000 records/s ÷ 1,000⌉; bytes: 0.05 MB/s
    # 2,500 records/s need 3 shards, under an on-demand stream's 4
    assert model(Inputs(rps=50_000, cache_hit=1.0, gzip_ratio=0.001, lines_per_record=20)).kinesis_shards == 4


def test_lambda_bills_whole_milliseconds() -> None:
    r = model(Inputs(rps=100, cache_hit=0.0, decision_ms=0.1, overhead_ms=1.0, memory_mb=512))
    assert r.billed_ms == 2  # 1.3455 ms rounded up
    m = MONTH_SECONDS
    compute = (100 * 0.002 + r.cold_starts_per_s * math.ceil(420.0 * 1769 / 512) / 1000) * 0.5 * m
    assert r.cost["authorizer Lambda compute"] == pytest.approx(compute * Prices().lambda_gb_second)


def test_audit_consumer_batches_calls_and_busy_time() -> None:
    r = model(BASE)
    # 55 records/s over 4 shards: each shard's batch waits the 1 s window (14 records < 100)
    assert r.consumer_invocations_per_s == pytest.approx(4.0)
    assert r.consumer_batch_ms == pytest.approx(13.75 * 5 + 40 + 20)  # 128.75 ms
    assert r.consumer_busy == pytest.approx(4 * 0.12875)
    assert r.putlogevents_per_s == pytest.approx(4.0)  # one call per batch: 190,000 B + 26 B/event
    assert r.checkpoint_writes_per_s == pytest.approx(8.0)  # intent + commit
    assert r.createlogstream_per_s == 0.0  # once per shard, not per record
    # 1,100 records/s: batches fill first (100 records), 11 batches/s
    busy = model(dataclasses.replace(BASE, lines_per_record=1))
    assert busy.kinesis_records_per_s == pytest.approx(1100.0)
    assert busy.consumer_invocations_per_s == pytest.approx(11.0)
    # 2 records/s: each record is a batch of its own
    quiet = model(dataclasses.replace(BASE, rps=40, cache_hit=1.0))
    assert quiet.consumer_invocations_per_s == pytest.approx(2.0)
    # big batches need several calls of at most 1 MB: 50,000 events/s of 700 B over 11 batches/s
    big = model(
        dataclasses.replace(BASE, rps=50_000, cache_hit=1.0, lines_per_record=50, access_event_bytes=700)
    )
    per_batch = (50_000 * 700 + 50_000 * 26) / big.consumer_invocations_per_s
    assert big.putlogevents_per_s == pytest.approx(
        big.consumer_invocations_per_s * math.ceil(per_batch / 1_048_576)
    )
    # a slow consumer binds first: 4 batches/s × 1,378.75 ms on 4 shards
    slow = model(dataclasses.replace(BASE, consumer_ms_per_record=100.0))
    b = slow.binding(BASE.rps)
    assert b.name.startswith("audit consumer")
    assert b.utilisation == pytest.approx(4 * (13.75 * 100 + 60) / 1000 / 4)


def test_monthly_cost_items() -> None:
    p = Prices()
    r = model(BASE, p)
    m = 730 * 3600
    assert r.cost["API Gateway requests"] == pytest.approx(1000 * m / 1e6 * 3.50)  # 9,198.00
    assert r.cost["authorizer Lambda requests"] == pytest.approx(100 * m / 1e6 * 0.20)  # 52.56
    compute_gb_s = (100 * 0.002 + (1 / 3600) * 0.5) * (1769 / 1024) * m
    assert r.cost["authorizer Lambda compute"] == pytest.approx(compute_gb_s * p.lambda_gb_second)
    assert r.cost["DynamoDB reads"] == pytest.approx((2 / 3 + 1) * m / 1e6 * 0.125)
    # one container looking at the change log every 2 s: half a read unit per second
    assert r.cost["DynamoDB revocation checks"] == pytest.approx(0.5 * m / 1e6 * 0.125)  # 0.16
    # on-demand stream: 730 stream-hours; 163,500 B/s in (records over 1 KB) and out
    assert r.cost["Kinesis stream (on-demand)"] == pytest.approx(730 * 0.04)  # 29.20
    gb = 163_500 * m / 1024**3
    assert r.cost["Kinesis data in and out (on-demand)"] == pytest.approx(gb * 0.08 + gb * 0.04)
    assert r.cost["Kinesis extended retention"] == 0.0  # 24 hours: included
    week = model(dataclasses.replace(BASE, kinesis_retention_hours=168.0), p)
    stored_gb = 163_500 * 144 * 3600 / 1024**3  # what the stream holds past 24 h
    assert week.cost["Kinesis extended retention"] == pytest.approx(stored_gb * 0.10)
    # consumer: 4 batches/s of 128.75 ms, billed 129 ms, at 1769 MB
    consumer = 4 * m / 1e6 * 0.20 + 4 * 0.129 * (1769 / 1024) * m * p.lambda_gb_second
    assert r.cost["audit consumer Lambda"] == pytest.approx(consumer)
    assert r.cost["audit checkpoint writes"] == pytest.approx(8 * m / 1e6 * 0.625)
    # provisioned, one shard: shard-hours and PUT units instead
    one = model(BASE, p, Limits(kinesis_shards=1))
    assert one.cost["Kinesis shards"] == pytest.approx(1 * 730 * 0.015)  # 10.95
    assert one.cost["Kinesis PUT units"] == pytest.approx(55 * m / 1e6 * 0.014)
    assert "Kinesis stream (on-demand)" not in one.cost
    one_week = model(dataclasses.replace(BASE, kinesis_retention_hours=168.0), p, Limits(kinesis_shards=1))
    assert one_week.cost["Kinesis extended retention"] == pytest.approx(730 * 0.02)
    # on-demand bills each record as at least 1 KB: 55 records/s of 100 B are 55 KB/s
    small = model(dataclasses.replace(BASE, gzip_ratio=(55 * 100) / 1_090_000))
    assert small.cost["Kinesis data in and out (on-demand)"] == pytest.approx(
        55 * 1024 * m / 1024**3 * 0.08 + 55 * 100 * m / 1024**3 * 0.04
    )
    # CloudWatch Logs: the source lines at the Standard price, the audit events at their class's
    source_gb = (1_090_000 + 35_000) * m / 1024**3
    assert r.cost["CloudWatch Logs ingest, source lines"] == pytest.approx(source_gb * 0.50)
    assert r.cost["CloudWatch Logs ingest, audit events"] == pytest.approx(r.audit_events_gb_month * 0.50)
    ia = model(dataclasses.replace(BASE, audit_log_class="INFREQUENT_ACCESS"), p)
    assert ia.cost["CloudWatch Logs ingest, audit events"] == pytest.approx(r.audit_events_gb_month * 0.25)
    assert r.monthly_cost == pytest.approx(sum(r.cost.values()))
    audit = sum(r.cost[k] for k in r.cost if k.startswith(("CloudWatch", "Kinesis", "audit")))
    assert r.audit_cost == pytest.approx(audit)
    assert r.audit_cost_per_million == pytest.approx(audit / (1000 * m / 1e6))


def test_prices_are_inputs() -> None:
    free = Prices(apigw_per_million=0.0)
    assert model(BASE, free).cost["API Gateway requests"] == 0.0


def test_derived_cache_hit_ratio() -> None:
    # 10 keys at 1 request/s each, entries live 60 s: each key misses 1/(1 + 60) of its requests.
    assert derived_cache_hit(rps=10, keys=10, window_s=60) == pytest.approx(60 / 61)
    assert derived_cache_hit(rps=10, keys=10, window_s=0) == pytest.approx(0.0)  # no caching
    assert derived_cache_hit(rps=0, keys=10, window_s=60) == 0.0
    # the model uses min(cache TTL, token lifetime) as the entry's life
    r = model(
        Inputs(rps=10, cache_hit=None, clients=10, routes_per_client=1, cache_ttl_s=300, token_lifetime_s=60)
    )
    assert r.cache_hit == pytest.approx(60 / 61)
    assert r.invocations_per_s == pytest.approx(10 / 61)


def test_which_limit_binds_first() -> None:
    # a fast consumer: the API Gateway account throttle comes first (10,000 rps)
    fast = dataclasses.replace(
        BASE, consumer_ms_per_record=1.0, consumer_put_ms=0.0, consumer_checkpoint_ms=0.0
    )
    r = model(fast)
    assert r.binding(BASE.rps).name.startswith("API Gateway")
    # one provisioned shard: 163,500 B/s of 1 MB/s → reached at 1000 / 0.1635 ≈ 6,116 rps
    r1 = model(fast, limits=Limits(kinesis_shards=1))
    b = r1.binding(BASE.rps)
    assert b.name.startswith("Kinesis bytes")
    assert b.rps_at_limit(BASE.rps) == pytest.approx(1000 / 0.1635)
    # a low PutLogEvents quota binds before everything else: 4 calls/s of 2
    r2 = model(fast, limits=Limits(putlogevents_tps=2))
    assert r2.binding(BASE.rps).name.startswith("PutLogEvents")
    assert r2.binding(BASE.rps).utilisation == pytest.approx(2.0)
    # concurrency: the authorizer's 0.2 and the consumer's 0.0138 of 1 → about 4,680 rps
    r3 = model(fast, limits=Limits(lambda_concurrency=1, lambda_scale_per_10s=1000))
    assert r3.binding(BASE.rps).rps_at_limit(BASE.rps) == pytest.approx(1000 / (0.2 + r3.consumer_busy))
    assert not math.isinf(r3.binding(BASE.rps).utilisation)


WORKED_EXAMPLE = Inputs(rps=2000, clients=5000, routes_per_client=5, token_lifetime_s=3600, cache_ttl_s=300)
"""docs/benchmarks.md "Capacity and cost model": the stack as deployed, every other input at its default."""


def test_the_audit_trail_costs_at_most_half_of_what_it_did_at_the_worked_example() -> None:
    r = model(WORKED_EXAMPLE)
    assert r.audit_cost_per_million <= 0.5 * PREVIOUS_AUDIT_COST_PER_MILLION
    # the previous figure is the previous worked example of docs/benchmarks.md: 4,486.35 USD a month at 2,000 rps
    assert math.isclose(PREVIOUS_AUDIT_COST_PER_MILLION, 4486.35 / (2000 * 730 * 3600 / 1e6))
    # and the Standard class alone would not be enough: the levers add up
    standard = model(dataclasses.replace(WORKED_EXAMPLE, audit_log_class="STANDARD"))
    assert standard.audit_cost_per_million > 0.5 * PREVIOUS_AUDIT_COST_PER_MILLION


def test_the_audit_pipeline_keeps_up_with_20000_rps_on_default_quotas() -> None:
    twenty = dataclasses.replace(WORKED_EXAMPLE, rps=20_000, clients=50_000)
    r = model(twenty)
    audit_limits = [lim for lim in r.limits if not lim.name.startswith(("API Gateway", "Lambda scaling"))]
    assert {lim.name for lim in audit_limits} >= {
        "audit consumer (one batch at a time per shard)",
        "PutLogEvents (calls/s per account)",
        "Kinesis on-demand stream (bytes in/s)",
        "DynamoDB checkpoint item (write units/s per shard)",
    }
    assert all(lim.utilisation < 1.0 for lim in audit_limits), [
        (lim.name, lim.utilisation) for lim in audit_limits
    ]
    # and nothing of the stack binds before API Gateway's own account throttle
    assert model(WORKED_EXAMPLE).binding(2000).name.startswith("API Gateway")
    assert r.binding(20_000).name.startswith("API Gateway")


def test_recovery_seconds_of_a_measured_redelivery() -> None:
    inp = dataclasses.replace(BASE, consumer_memory_mb=1024, consumer_read_page_ms=60.0)
    took = recovery_seconds(0.1, get_pages=2, put_calls=3, checkpoint_calls=4, lease_wait_s=4.0, inp=inp)
    assert took == pytest.approx(0.1 * 1769 / 1024 + 2 * 0.060 + 3 * 0.040 + 4 * 0.010 + 4.0)


def test_default_sizes_are_what_the_stack_writes_for_a_typical_request() -> None:
    """The model's byte sizes are measured, not assumed: a typical request's lines and events."""
    from edgeauth.audit.schema import SourceLogEvent, normalise_log_event
    from edgeauth.core.audit_line import DecisionRecord, decision_line
    from tests.support.access_lines import COMPACT_FORMAT, TYPICAL, raw_access_line

    inp = Inputs()
    access = raw_access_line(TYPICAL, COMPACT_FORMAT)
    line = decision_line(
        DecisionRecord(
            decision="allow",
            reason="allowed",
            rule="reader:allow:GET /accounts/{id}",
            iss=TYPICAL["iss"],
            sub=TYPICAL["sub"],
            kid="key-2024-05",
            jti="9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
            client_id=TYPICAL["clientId"],
            roles=["reader", "teller"],
            method="GET",
            resource=TYPICAL["resourcePath"],
            path="/accounts/12345",
            source_ip=TYPICAL["sourceIp"],
            request_id=TYPICAL["requestId"],
            api_id=TYPICAL["apiId"],
            stage=TYPICAL["stage"],
            latency_ms=0.84,
        ),
        now=1_717_000_000.1,
    )
    src = "38294756283947562839475628394756283947562839475628"
    access_event = normalise_log_event(SourceLogEvent("g", "s", src, 1_717_000_000_200, access), "access")
    decision_event = normalise_log_event(SourceLogEvent("g", "s", src, 1_717_000_000_100, line), "decision")
    assert access_event is not None and decision_event is not None
    for modelled, measured in (
        (inp.access_line_bytes, len(access)),
        (inp.audit_line_bytes, len(line)),
        (inp.access_event_bytes, len(access_event.to_json())),
        (inp.decision_event_bytes, len(decision_event.to_json())),
    ):
        assert abs(modelled - measured) <= 0.02 * measured, (modelled, measured)


def test_cli_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--rps", "2000", "--clients", "5000", "--token-lifetime", "3600", "--kinesis-shards", "1"]) == 0
    )
    out = capsys.readouterr().out
    for text in (
        "authorizer invocations",
        "DynamoDB items read",
        "shard",
        "GB/month",
        "checkpoint writes",
        "per million requests",
        "total",
        "Binds first",
    ):
        assert text in out
    with pytest.raises(SystemExit):
        main(["--cache-hit", "1.5"])
    with pytest.raises(SystemExit):
        main(["--audit-log-class", "DELIVERY"])
    assert main(["--rps", "2000", "--audit-log-class", "STANDARD"]) == 0
    assert "audit events, standard" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--consumer-batch-size", "0"], "--consumer-batch-size must be > 0"),
        (["--consumer-batching-window", "0"], "--consumer-batching-window must be > 0"),
        (["--lines-per-record", "0"], "--lines-per-record must be > 0"),
        (["--kinesis-shards", "0"], "--kinesis-shards must be > 0"),
        (["--rps", "-5"], "--rps must be a finite number >= 0, not -5.0"),
        (["--consumer-put-ms", "nan"], "--consumer-put-ms must be a finite number"),
    ],
)
def test_cli_refuses_values_the_model_cannot_use(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# -- revocation checks and cache flushes (a separate term: docs/roles.md "How fast an edit takes effect") --


def test_each_warm_container_reads_the_change_log_once_per_interval() -> None:
    # BASE: one container (concurrency 0.2), 100 invocations/s, a look every 2 s
    r = model(BASE)
    assert r.revocation_checks_per_s == pytest.approx(0.5)
    assert r.revocation_check_read_units_per_s == pytest.approx(0.5)  # 1 unit: strongly consistent, < 4 KB
    # 10,000 invocations/s of 1 ms + 1 ms on 2 full vCPUs' worth: 20 containers, 10 looks/s
    busy = model(dataclasses.replace(BASE, rps=10_000, cache_hit=0.0))
    assert busy.concurrency == pytest.approx(20.0)
    assert busy.revocation_checks_per_s == pytest.approx(20 / 2)
    # a container looks only on a request: 0.2 invocations/s look at most 0.2 times/s
    quiet = model(dataclasses.replace(BASE, rps=2, cache_hit=0.9))
    assert quiet.revocation_checks_per_s == pytest.approx(0.2)
    # a longer interval, fewer looks
    assert model(dataclasses.replace(BASE, revocation_check_s=10)).revocation_checks_per_s == pytest.approx(
        0.1
    )


def test_cache_flushes_shorten_what_a_cached_answer_lives() -> None:
    # 100 clients × 1 route at 1,000 rps: 10 requests/s per cache key; cache TTL 300 s
    base = dataclasses.replace(BASE, cache_hit=None, clients=100, routes_per_client=1, cache_ttl_s=300)
    calm = model(base)
    assert calm.cache_flushes_per_s == 0
    assert calm.cache_hit == pytest.approx(1 - 100 * 10 / (1 + 10 * 300) / 1000)  # 99.97 %
    # sparse edits: one batch every 20 s, two flushes each: 0.1 flush/s, an answer lives 10 s
    sparse = model(dataclasses.replace(base, role_edit_batch_rate=0.05))
    assert sparse.cache_flushes_per_s == pytest.approx(0.1)
    assert sparse.cache_hit == pytest.approx(1 - 100 * 10 / (1 + 10 * 10) / 1000)  # 99.01 %
    # a steady stream: batches back to back, one flush per 3 s (interval 2 s + 1 s) at most
    steady = model(dataclasses.replace(base, role_edit_batch_rate=5))
    assert steady.cache_flushes_per_s == pytest.approx(1 / 3)
    assert steady.cache_hit == pytest.approx(1 - 100 * 10 / (1 + 10 * 3) / 1000)  # 96.77 %
    assert steady.invocations_per_s == pytest.approx(1000 * (1 - steady.cache_hit))  # 32.3/s
