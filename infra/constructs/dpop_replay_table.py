"""The DPoP replay table: ids of accepted proofs, until they could no longer be accepted anyway.

Created only when an issuer has ``dpop`` ``optional`` or ``required`` (docs/authorizer.md "DPoP (RFC 9449)").
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids


class DpopReplayTable(Construct):
    """A DynamoDB table keyed by :data:`edgeauth.constants.DPOP_REPLAY_KEY` (string), one item per
    accepted proof, written by the authorizer's conditional PutItem
    (:mod:`edgeauth.adapters.replay_store`).

    * on-demand capacity: one write per DPoP request, whatever the traffic;
    * TTL on :data:`~edgeauth.constants.DPOP_REPLAY_EXPIRES_AT`, so DynamoDB deletes each item once
      its proof's window has passed (the write's condition already ignores expired items that the
      sweep has not reached yet);
    * encrypted with the AWS-managed KMS key, like the role table; no stream (nothing reacts to it);
    * destroyed with the stack, without point-in-time recovery or deletion protection: it holds only
      hashes of proof ids that are worthless after at most ``dpop_max_age_seconds`` + leeway (≤ 65
      minutes). Losing it lets a proof captured in that last window be replayed once, no more; there
      is nothing to restore and nothing worth keeping after the stack is gone.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            ids.TABLE,
            partition_key=dynamodb.Attribute(name=C.DPOP_REPLAY_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=C.DPOP_REPLAY_EXPIRES_AT,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )
