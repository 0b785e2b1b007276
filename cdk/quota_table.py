"""The quota store on AWS: one DynamoDB table for the API keys and the quota counters.

Every server charges its uploads here (``sharer.quota_counters``: conditional atomic
``UpdateItem``), and looks each key up by its digest (``sharer.api_keys``), so quotas
hold across servers and a revoked key fails at once everywhere. On demand: the load is
uploads, a few requests each. The counters' ``expires_at`` is the table's TTL, so old
windows go without a sweep. The keys matter (an operator made them), so the table keeps
point-in-time recovery and outlives the stack.
"""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cdk.nag import skip_checkov

# The attribute names of sharer.quota_counters and sharer.api_keys (the CDK app imports
# only the key scheme from src; tests/infra/test_quota_table.py compares them).
PARTITION_KEY = "pk"
EXPIRES_ATTRIBUTE = "expires_at"


class QuotaTable(Construct):
    """``table``: API keys (their digests) and quota counters, shared by the servers."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=EXPIRES_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip_checkov(
            self.table,
            "CKV_AWS_119",
            "Encrypted at rest with the AWS-managed key: the table holds key digests and "
            "counters, nothing a customer-managed key's extra control would protect.",
        )
        self.table_name = self.table.table_name
