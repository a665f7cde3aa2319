"""``edgeauth audit replay``: re-drive the audit records the consumer dead-lettered, exactly once.

Reads the audit consumer's dead-letter queue (the stack output ``AuditDeadLetterQueueUrl``, or
``--queue-url``): each message names a shard and a range of sequence numbers. For each, the records
are read back from the audit stream (while it still holds them) and written to the audit log group
by the consumer's own exactly-once writer (see :mod:`edgeauth.audit.replay`); the message is deleted
once its range is written. ``--shard/--from/--to`` re-drive one range without the queue.

A range the stream no longer holds is refused with a message naming it (exit 1); the message stays in
the queue. ``--dry-run`` reads and reports, writes and deletes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from edgeauth import constants as C
from edgeauth_cli.context import AWS, STACK, CliContext, CliError

RECEIVE_BATCH = 10
VISIBILITY_SECONDS = 300
"""A received message stays invisible this long: enough to replay one range of up to 10,000 records."""


def add_parser(sub: Any) -> None:
    """``edgeauth audit replay``, under ``edgeauth audit`` (not a top-level command: it has no
    ``register``, which :mod:`edgeauth_cli.main` would call)."""
    p = sub.add_parser(
        "replay",
        help="re-drive dead-lettered audit records (exactly once)",
        description=__doc__,
        epilog=(
            "examples:\n"
            "  edgeauth --stack EdgeAuth-dev audit replay --dry-run\n"
            "  edgeauth --stack EdgeAuth-dev audit replay\n"
            "one range without the queue (the shard id and sequence numbers a dead letter names):\n"
            "  --shard SHARD_ID --from FIRST_SEQUENCE_NUMBER --to LAST_SEQUENCE_NUMBER"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--queue-url", help=f"dead-letter queue (default: the stack output {C.OUTPUT_AUDIT_DEAD_LETTERS})"
    )
    p.add_argument("--shard", help="replay this shard's range instead of the queue's messages")
    p.add_argument("--from", dest="first", metavar="SEQ", help="first sequence number (with --shard)")
    p.add_argument("--to", dest="last", metavar="SEQ", help="last sequence number (with --shard)")
    p.add_argument(
        "--max-messages", type=int, default=100, help="messages to handle in this run (default 100)"
    )
    p.add_argument("--dry-run", action="store_true", help="read and report; write and delete nothing")
    p.add_argument("--output", dest="audit_output", choices=("table", "json"), default=None)
    p.set_defaults(func=cmd_replay, needs=(AWS, STACK))


@dataclass
class _Outcome:
    range: str
    status: str
    records: int = 0
    events: int = 0
    written: int = 0
    duplicates: int = 0
    detail: str = ""


def cmd_replay(ctx: CliContext, args: argparse.Namespace) -> int:
    from edgeauth.audit.replay import DeadLetter

    given = [bool(args.shard), bool(args.first), bool(args.last)]
    if any(given) and not all(given):
        raise CliError("--shard, --from and --to go together (one range), or none of them (the queue)", 2)
    if args.max_messages < 1:
        raise CliError("--max-messages must be at least 1", 2)
    outcomes: list[_Outcome] = []
    if args.shard:
        stream = ctx.output_value(C.OUTPUT_AUDIT_STREAM)
        arn = _stream_arn(ctx, stream)
        letter = DeadLetter(arn, args.shard, args.first, args.last)
        outcomes.append(_replay_one(ctx, letter, args.dry_run))
    else:
        queue = args.queue_url or ctx.output_value(C.OUTPUT_AUDIT_DEAD_LETTERS)
        outcomes += _drain(ctx, queue, args.max_messages, args.dry_run)
    _report(outcomes, args.audit_output or ctx.output)
    return 0 if all(o.status in ("replayed", "already written", "read (dry run)") for o in outcomes) else 1


def _drain(ctx: CliContext, queue: str, limit: int, dry_run: bool) -> list[_Outcome]:
    from botocore.exceptions import BotoCoreError, ClientError

    from edgeauth.audit.replay import DeadLetterError, parse_dead_letter

    sqs = ctx.client("sqs")
    outcomes: list[_Outcome] = []
    seen: set[str] = set()
    while len(outcomes) < limit:
        try:
            resp = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=min(RECEIVE_BATCH, limit - len(outcomes)),
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
            )
        except (ClientError, BotoCoreError) as e:
            raise CliError(f"cannot read the dead-letter queue {queue!r}: {e}") from e
        messages = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages:
            seen.add(message["MessageId"])
            try:
                letter = parse_dead_letter(message.get("Body", ""))
            except DeadLetterError as e:
                outcomes.append(
                    _Outcome(f"message {message['MessageId']}", "not a dead letter", detail=str(e))
                )
                continue
            outcome = _replay_one(ctx, letter, dry_run)
            outcomes.append(outcome)
            if outcome.status in ("replayed", "already written") and not dry_run:
                try:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                except (ClientError, BotoCoreError) as e:
                    outcome.detail = f"written, but the message could not be deleted ({e}): replaying it again writes nothing"
    return outcomes


def _replay_one(ctx: CliContext, letter: Any, dry_run: bool) -> _Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    from edgeauth.audit.replay import RangeExpiredError, read_range, replay

    label = f"{letter.shard_id} {letter.first}..{letter.last}"
    try:
        records = read_range(ctx.client("kinesis"), letter)
    except RangeExpiredError as e:
        return _Outcome(label, "expired", detail=str(e))
    except (ClientError, BotoCoreError) as e:
        return _Outcome(label, "failed", detail=f"cannot read the audit stream: {e}")
    if dry_run:
        return _Outcome(label, "read (dry run)", records=len(records))
    outcome = replay(letter, records, _consumer(ctx))
    status = "replayed" if outcome.written else "already written"
    if outcome.failed:
        status = "failed"
    return _Outcome(
        label,
        status,
        records=len(records),
        events=outcome.events,
        written=outcome.written,
        duplicates=outcome.duplicates,
        detail="; ".join(outcome.errors),
    )


def _consumer(ctx: CliContext) -> Any:
    from edgeauth.audit.checkpoint import CheckpointStore
    from edgeauth.audit.consumer import AuditConsumer
    from edgeauth.audit.schema import AuditSources
    from edgeauth.audit.shard_writer import ShardWriter
    from edgeauth.audit.writer import AuditLogWriter

    return AuditConsumer(
        ShardWriter(
            AuditLogWriter(ctx.output_value(C.OUTPUT_AUDIT_LOG_GROUP), ctx.client("logs")),
            CheckpointStore(ctx.output_value(C.OUTPUT_AUDIT_CHECKPOINT_TABLE), ctx.client("dynamodb")),
        ),
        AuditSources(
            authorizer_log_group=ctx.output_value(C.OUTPUT_AUTHORIZER_LOG_GROUP),
            access_log_group=ctx.output_value(C.OUTPUT_ACCESS_LOG_GROUP),
        ),
    )


def _stream_arn(ctx: CliContext, stream: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        summary = ctx.client("kinesis").describe_stream_summary(StreamName=stream)
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot describe the audit stream {stream!r}: {e}") from e
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


def _report(outcomes: list[_Outcome], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))
        return
    if not outcomes:
        print("nothing to replay: the dead-letter queue is empty", file=sys.stderr)
        return
    for o in outcomes:
        counts = (
            f"{o.records} records, {o.written} events written, {o.duplicates} already there"
            if o.records
            else ""
        )
        line = f"{o.range}: {o.status}" + (f" ({counts})" if counts else "")
        print(line + (f": {o.detail}" if o.detail else ""))
