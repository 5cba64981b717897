"""The abort rule for abandoned multipart uploads, on moto's S3 (a narrow unit test:
MinIO refuses the rule, which tests/integration/processor/test_abandoned.py shows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

from glowworm.provision import ABORT_RULE_ID, abort_incomplete_uploads

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef


@mock_aws
def test_the_abort_rule_joins_the_rules_a_bucket_has_once() -> None:
    s3: S3Client = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="originals")
    theirs: LifecycleRuleTypeDef = {
        "ID": "expire-tmp",
        "Status": "Enabled",
        "Filter": {"Prefix": "tmp/"},
        "Expiration": {"Days": 7},
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket="originals", LifecycleConfiguration={"Rules": [theirs]}
    )

    assert abort_incomplete_uploads(s3, "originals")
    assert abort_incomplete_uploads(s3, "originals")  # again: nothing added

    rules = s3.get_bucket_lifecycle_configuration(Bucket="originals")["Rules"]
    assert [rule["ID"] for rule in rules] == ["expire-tmp", ABORT_RULE_ID]
    ours = rules[1]
    assert ours["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert ours["Status"] == "Enabled"
