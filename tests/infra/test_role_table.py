"""RoleTable: on-demand, PITR, encrypted, retained, streamed, keyed by the shared constants."""

from __future__ import annotations

from aws_cdk.assertions import Match

from edgeauth import constants as C
from tests.infra.conftest import Synth


def test_table_is_keyed_by_the_shared_key_names(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": C.TABLE_PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": C.TABLE_SORT_KEY, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [{"AttributeName": C.TABLE_PARTITION_KEY, "AttributeType": "S"}]
            ),
        },
    )


def test_table_is_durable_encrypted_and_streamed(synth: Synth) -> None:
    table = synth.resource(synth.stack.role_table.table)
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # SSEEnabled without a key id: KMS with the AWS-managed aws/dynamodb key (not the default owned key).
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["DeletionProtectionEnabled"] is True
