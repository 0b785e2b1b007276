"""An optional AWS WAF web ACL that limits each client's uploads (``POST /``).

Off by default (context parameter ``wafRateLimit``): a web ACL costs a fixed monthly fee
before any traffic (docs/deploy.md). A client over the limit gets 429 with Retry-After
and a JSON body, as every answer of the service is JSON. A web ACL for CloudFront must be
created in us-east-1, so the stack refuses, at change-set creation, to deploy it
anywhere else.
"""

import json

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Fn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# WAF counts a rate-based rule's requests over this window (seconds).
WINDOW_SECONDS = 300
RESPONSE_KEY = "too-many-uploads"
WAF_REGION = "us-east-1"


def _exact(
    field: wafv2.CfnWebACL.FieldToMatchProperty, value: str
) -> wafv2.CfnWebACL.StatementProperty:
    """A statement matching ``field`` equal to ``value``, as sent."""
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=field,
            positional_constraint="EXACTLY",
            search_string=value,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )


class UploadRateLimit(Construct):
    """``web_acl`` (scope CLOUDFRONT): at most ``limit`` uploads per client IP per window."""

    def __init__(self, scope: Construct, construct_id: str, *, limit: int) -> None:
        super().__init__(scope, construct_id)
        CfnRule(
            self,
            "OnlyInUsEast1",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Aws.REGION, WAF_REGION),
                    assert_description=(
                        f"wafRateLimit needs the stack in {WAF_REGION}: a web ACL for "
                        "CloudFront can only be created there."
                    ),
                )
            ],
        )
        acl = wafv2.CfnWebACL
        visibility = acl.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name="SharerUploads",
            sampled_requests_enabled=True,
        )
        body = json.dumps({"error": "too many uploads from this address; retry later"})
        self.web_acl = acl(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=acl.DefaultActionProperty(allow={}),
            visibility_config=visibility,
            custom_response_bodies={
                RESPONSE_KEY: acl.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=body
                )
            },
            rules=[
                acl.RuleProperty(
                    name="UploadsPerClient",
                    priority=0,
                    statement=acl.StatementProperty(
                        rate_based_statement=acl.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=limit,
                            evaluation_window_sec=WINDOW_SECONDS,
                            scope_down_statement=acl.StatementProperty(
                                and_statement=acl.AndStatementProperty(
                                    statements=[
                                        _exact(acl.FieldToMatchProperty(method={}), "POST"),
                                        _exact(acl.FieldToMatchProperty(uri_path={}), "/"),
                                    ]
                                )
                            ),
                        )
                    ),
                    action=acl.RuleActionProperty(
                        block=acl.BlockActionProperty(
                            custom_response=acl.CustomResponseProperty(
                                response_code=429,
                                custom_response_body_key=RESPONSE_KEY,
                                response_headers=[
                                    acl.CustomHTTPHeaderProperty(
                                        name="Retry-After", value=str(WINDOW_SECONDS)
                                    )
                                ],
                            )
                        )
                    ),
                    visibility_config=visibility,
                )
            ],
        )
