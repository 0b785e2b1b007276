"""CloudFront in front of everything: images from S3, the rest from the upload tier.

One distribution, two origins:

- ``images/*/*`` (``images/<id>/<name>.<ext>``: originals and thumbnails, immutable) from
  the bucket through Origin Access Control, with the managed CachingOptimized policy. The
  bucket policy lets the distribution read that prefix and nothing else, so status
  records (``status/``) are never served.
- the internal load balancer through a VPC origin (no public origin at all):
  ``static/*`` (fingerprinted page assets) and ``i/*`` (share pages) cached as the
  server's Cache-Control says, and everything else (``POST /``, ``GET /images/<id>``,
  ``/healthz``) uncached, all methods.

A thumbnail's URL is handed out before the worker has made it; S3 answers 403 until then
(OAC may not list the bucket), so 403 and 404 are cached for 0 seconds, not CloudFront's
default 10.
"""

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.nag import acknowledge, skip_checkov

IMAGES_PATH = "images/*/*"
IMAGES_KEYS = "images/*"
# Served by the upload tier, cached for as long as its Cache-Control allows.
STATIC_PATH = "static/*"
SHARE_PAGES_PATH = "i/*"
HSTS_MAX_AGE = Duration.days(365)
# What CloudFront keeps without a Cache-Control (nothing) and at most (a year, for
# fingerprinted assets marked immutable).
ORIGIN_DEFAULT_TTL = Duration.seconds(0)
ORIGIN_MAX_TTL = Duration.days(365)


class Cdn(Construct):
    """``distribution``, its ``domain_name`` and ``distribution_id``: the public face."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        log_bucket: s3.IBucket,
        load_balancer: elbv2.IApplicationLoadBalancer,
        load_balancer_port: int,
        read_timeout: Duration,
        keepalive_timeout: Duration,
        web_acl_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="nosniff and HSTS on every response",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
            ),
        )
        origin_access_control = cloudfront.S3OriginAccessControl(
            self, "OriginAccessControl", signing=cloudfront.Signing.SIGV4_ALWAYS
        )
        tier = origins.VpcOrigin.with_application_load_balancer(
            load_balancer,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            http_port=load_balancer_port,
            read_timeout=read_timeout,
            keepalive_timeout=keepalive_timeout,
        )
        as_the_server_says = cloudfront.CachePolicy(
            self,
            "OriginCacheControl",
            comment="Cached as the server's Cache-Control says; nothing without one.",
            default_ttl=ORIGIN_DEFAULT_TTL,
            min_ttl=Duration.seconds(0),
            max_ttl=ORIGIN_MAX_TTL,
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        pages = cloudfront.BehaviorOptions(
            origin=tier,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=as_the_server_says,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            response_headers_policy=headers,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="My Little Image Sharer",
            default_behavior=cloudfront.BehaviorOptions(
                origin=tier,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                IMAGES_PATH: cloudfront.BehaviorOptions(
                    # An S3 origin signed by the OAC that grants nothing: CDK's own OAC
                    # origin would grant the distribution the whole bucket, so the grant is
                    # written below for the images prefix only.
                    origin=origins.S3BucketOrigin.with_bucket_defaults(
                        bucket,
                        origin_access_control_id=origin_access_control.origin_access_control_id,
                    ),
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    response_headers_policy=headers,
                ),
                STATIC_PATH: pages,
                SHARE_PAGES_PATH: pages,
            },
            error_responses=[
                cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(0))
                for status in (403, 404)
            ],
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            web_acl_id=web_acl_arn,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontReadsImages",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(IMAGES_KEYS)],
                conditions={"StringEquals": {"AWS:SourceArn": self.distribution.distribution_arn}},
            )
        )
        self.domain_name = self.distribution.distribution_domain_name
        self.distribution_id = self.distribution.distribution_id
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The distribution uses the default *.cloudfront.net certificate, for which "
            "CloudFront fixes the viewer TLS policy; a custom domain with an ACM "
            "certificate (TLSv1.2_2021) is the remedy once the service has a name.",
        )
        skip_checkov(
            self.distribution,
            "CKV_AWS_174",
            "The default *.cloudfront.net certificate, whose viewer TLS policy CloudFront "
            "fixes (as AwsSolutions-CFR4 above).",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR5",
            "The hop from CloudFront to the internal load balancer is HTTP inside AWS's "
            "network (a VPC origin, no public address): an HTTPS listener needs a "
            "certificate for a domain the project does not have (docs/deploy.md, Known "
            "limits).",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The service is open to every country by design; there is no legal reason to "
            "geo-restrict image sharing here.",
        )
        if web_acl_arn is None:
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR2",
                "A WAF web ACL costs ~$5/month plus ~$1 per rule before any traffic; "
                "uploads are already size-, type- and pixel-checked by the server. The "
                "wafRateLimit context parameter adds one (docs/deploy.md).",
            )
            skip_checkov(
                self.distribution,
                "CKV_AWS_68",
                "No web ACL unless wafRateLimit is set (as AwsSolutions-CFR2 above).",
            )
