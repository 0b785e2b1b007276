"""CloudFront in front of everything: thumbnails from S3, the upload API from the server.

One distribution serves two behaviours:

- ``images/*/*`` (``images/<id>/<name>.<ext>``: originals and thumbnails, immutable) from
  the bucket through Origin Access Control, with the managed CachingOptimized policy. The
  bucket policy lets the distribution read that prefix and nothing else, so status
  records (``status/``) are never served.
- everything else (``POST /``, ``GET /images/<id>``, ``/healthz``) to the server,
  uncached, all methods, so uploads get HTTPS and the server admits only CloudFront.

A thumbnail's URL is handed out before the worker has made it; S3 answers 403 until then
(OAC may not list the bucket), so 403 and 404 are cached for 0 seconds, not CloudFront's
default 10.
"""

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.nag import acknowledge

IMAGES_PATH = "images/*/*"
IMAGES_KEYS = "images/*"
HSTS_MAX_AGE = Duration.days(365)


class Delivery(Construct):
    """``distribution`` and its ``domain_name``: the public face of the service."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        log_bucket: s3.IBucket,
        server_domain_name: str,
        server_port: int,
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
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="My Little Image Sharer",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(
                    server_domain_name,
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
                    http_port=server_port,
                ),
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
                )
            },
            error_responses=[
                cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(0))
                for status in (403, 404)
            ],
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
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
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The distribution uses the default *.cloudfront.net certificate, for which "
            "CloudFront fixes the viewer TLS policy; a custom domain with an ACM "
            "certificate (TLSv1.2_2021) is the remedy once the service has a name.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR5",
            "The hop from CloudFront to the server is plain HTTP on port 8080: an HTTPS "
            "origin needs a certificate from a public CA for a domain the project does not "
            "have. The server's security group admits only CloudFront's origin-facing "
            "addresses; a domain with an ACM certificate, or a CloudFront VPC origin, removes "
            "this (docs/deploy.md, Known limits).",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The service is open to every country by design; there is no legal reason to "
            "geo-restrict image sharing here.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "A WAF web ACL costs ~$5/month plus ~$1 per rule before any traffic, the "
            "biggest line of the idle bill; uploads are already size-, type- and "
            "pixel-checked by the server. Add one (web_acl_id) when the service is public.",
        )
