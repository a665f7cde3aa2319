"""The role table: roles, subjects, group mappings and clients (docs/roles.md)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids


class RoleTable(Construct):
    """A DynamoDB table keyed by :data:`edgeauth.constants.TABLE_PARTITION_KEY` /
    :data:`~edgeauth.constants.TABLE_SORT_KEY` (strings).

    On-demand capacity, point-in-time recovery, encryption with the AWS-managed KMS key (so the
    key's use is logged in CloudTrail without a key policy to maintain), deletion protection, retained
    when the stack is deleted, and a stream of new and old images for the role-events function.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            ids.TABLE,
            partition_key=dynamodb.Attribute(name=C.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=C.TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
