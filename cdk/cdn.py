"""CloudFront in front of everything: images from S3, the rest from the upload tier.

One distribution, two origins:

- ``images/*/large.jpg`` and the other JPEG thumbnails that have variants: as below,
  with the viewer-request function that serves a browser the variant its Accept names
  and ``Vary: Accept`` (``cdk.variant_function``).
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

CloudFront refuses to update a VPC origin that a distribution uses (409, "currently
associated with one or more distributions": the CloudFront Developer Guide's "Update a VPC
origin" has you detach it first; aws/aws-cdk issues 34629 and 35765). CloudFormation
cannot detach, so the VPC origin is never updated in place: its logical id and name
carry a digest of everything it is made of (``vpc_origin_digest``), so any change makes a
new one, the distribution switches to it, and CloudFormation deletes the old one once
nothing uses it. Tags would be updated in place, so the template gives the VPC origin
none, whatever ``Tags.of`` says above it; the stack's own tags, which CloudFormation
propagates to its resources, enter the digest, so changing them makes a new origin too.
The digest is taken when the app synthesizes, after ``Tags.of`` has tagged the stack.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Aspects, Duration, IAspect, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from cdk.nag import acknowledge, skip_checkov
from cdk.variant_function import VariantNegotiation, negotiated_path_patterns

IMAGES_PATH = "images/*/*"
IMAGES_KEYS = "images/*"
# Served by the upload tier, cached for as long as its Cache-Control allows.
STATIC_PATH = "static/*"
SHARE_PAGES_PATH = "i/*"
# The servers' Prometheus metrics: never public (CloudFront answers 404 itself).
METRICS_PATH = "/metrics*"
# A viewer-request function's own answer: the request never reaches an origin. (The
# function may answer with a status and headers: "Determine function purpose", CloudFront
# Developer Guide.)
NOT_FOUND_FUNCTION = """\
function handler(event) {
  return {
    statusCode: 404,
    statusDescription: "Not Found",
    headers: { "cache-control": { value: "no-store" } },
  };
}
"""
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
        negotiate_variants: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        security_headers = cloudfront.ResponseSecurityHeadersBehavior(
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
            ),
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="nosniff and HSTS on every response",
            security_headers_behavior=security_headers,
        )
        # Off (``negotiate_variants``) until images made before variants have them.
        self.variants = (
            VariantNegotiation(self, "ThumbnailVariants", security_headers=security_headers)
            if negotiate_variants
            else None
        )
        origin_access_control = cloudfront.S3OriginAccessControl(
            self, "OriginAccessControl", signing=cloudfront.Signing.SIGV4_ALWAYS
        )
        endpoint_settings = VpcOriginSettings(
            http_port=load_balancer_port,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            origin_ssl_protocols=(cloudfront.OriginSslPolicy.TLS_V1_2,),
        )
        self.vpc_origin = cloudfront.VpcOrigin(
            self,
            "UploadTierOrigin",
            endpoint=cloudfront.VpcOriginEndpoint.application_load_balancer(load_balancer),
            http_port=endpoint_settings.http_port,
            protocol_policy=endpoint_settings.protocol_policy,
            origin_ssl_protocols=list(endpoint_settings.origin_ssl_protocols),
        )
        vpc_origin_resource = self.vpc_origin.node.default_child
        assert isinstance(vpc_origin_resource, cloudfront.CfnVpcOrigin)
        vpc_origin_resource.add_property_deletion_override("Tags")
        Aspects.of(vpc_origin_resource).add(
            _NamedByWhatItIsMadeOf(vpc_origin_made_of(load_balancer, endpoint_settings))
        )
        tier = origins.VpcOrigin.with_vpc_origin(
            self.vpc_origin,
            domain_name=load_balancer.load_balancer_dns_name,
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
        # An S3 origin signed by the OAC that grants nothing: CDK's own OAC origin would
        # grant the distribution the whole bucket, so the grant is written below for the
        # images prefix only.
        bucket_origin = origins.S3BucketOrigin.with_bucket_defaults(
            bucket, origin_access_control_id=origin_access_control.origin_access_control_id
        )
        images = cloudfront.BehaviorOptions(
            origin=bucket_origin,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            response_headers_policy=headers,
        )
        # Thumbnails with variants first (CloudFront takes the first pattern that
        # matches): the function picks the variant, and the answer varies on Accept.
        negotiated: dict[str, cloudfront.BehaviorOptions] = {}
        if self.variants is not None:
            behaviour = cloudfront.BehaviorOptions(
                origin=bucket_origin,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.variants.vary_on_accept,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.variants.function,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            )
            negotiated = dict.fromkeys(negotiated_path_patterns(), behaviour)
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
                **negotiated,
                IMAGES_PATH: images,
                STATIC_PATH: pages,
                SHARE_PAGES_PATH: pages,
                METRICS_PATH: cloudfront.BehaviorOptions(
                    origin=tier,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    response_headers_policy=headers,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=cloudfront.Function(
                                self,
                                "MetricsNotFound",
                                comment="GET /metrics is never public: 404 at the edge.",
                                code=cloudfront.FunctionCode.from_inline(NOT_FOUND_FUNCTION),
                                runtime=cloudfront.FunctionRuntime.JS_2_0,
                            ),
                            event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                        )
                    ],
                ),
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


@dataclass(frozen=True)
class VpcOriginSettings:
    """The VPC origin's own settings, besides the balancer it points at."""

    http_port: int
    protocol_policy: cloudfront.OriginProtocolPolicy
    origin_ssl_protocols: tuple[cloudfront.OriginSslPolicy, ...]


def vpc_origin_made_of(
    load_balancer: elbv2.IApplicationLoadBalancer, settings: VpcOriginSettings
) -> dict[str, Any]:
    """Everything the VPC origin is made of but the stack's tags, as plain values.

    The balancer enters by its logical id and the properties whose change replaces it
    (scheme, type, name: AWS::ElasticLoadBalancingV2::LoadBalancer), since a replaced
    balancer keeps its logical id but gets a new ARN, which would update the origin.
    """
    balancer = load_balancer.node.default_child
    assert isinstance(balancer, elbv2.CfnLoadBalancer)
    stack = Stack.of(balancer)
    return {
        "balancer": stack.get_logical_id(balancer),
        # Resolved: CDK hands out a new token for each read of a lazy value.
        "scheme": stack.resolve(balancer.scheme),
        "type": stack.resolve(balancer.type),
        "name": stack.resolve(balancer.name),
        "http_port": settings.http_port,
        "protocol_policy": settings.protocol_policy.value,
        "origin_ssl_protocols": [policy.value for policy in settings.origin_ssl_protocols],
    }


def vpc_origin_digest(made_of: dict[str, Any], stack_tags: dict[str, str]) -> str:
    """A short digest of what the VPC origin is made of and the tags it would get."""
    everything = {**made_of, "stack_tags": stack_tags}
    return hashlib.sha256(json.dumps(everything, sort_keys=True).encode()).hexdigest()[:8]


@jsii.implements(IAspect)
class _NamedByWhatItIsMadeOf:
    """Gives the VPC origin its logical id and name once the stack's tags are final.

    Added at the default priority, it runs after ``Tags.of`` (a mutating aspect).
    """

    def __init__(self, made_of: dict[str, Any]) -> None:
        self._made_of = made_of

    def visit(self, node: IConstruct) -> None:
        """Name the VPC origin resource; every other node is left alone."""
        if not isinstance(node, cloudfront.CfnVpcOrigin):
            return
        stack = Stack.of(node)
        digest = vpc_origin_digest(self._made_of, dict(stack.tags.tag_values()))
        node.override_logical_id(f"CdnUploadTierOrigin{digest}")
        node.add_property_override(
            "VpcOriginEndpointConfig.Name", f"{stack.stack_name[:50]}-uploads-{digest}"
        )
