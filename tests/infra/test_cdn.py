"""CloudFront: images from S3 through OAC, the rest from the balancer, errors uncached."""

from fnmatch import fnmatchcase
from typing import Any

from cdk_synthesis import Synthesized, render

from cdk.cdn import IMAGES_PATH, METRICS_PATH, SHARE_PAGES_PATH, STATIC_PATH
from cdk.upload_tier import LISTENER_PORT
from cdk.variant_function import negotiated_path_patterns
from sharer.formats import JPEG, WEBP
from sharer.ids import new_image_id
from sharer.key_scheme import original_key, status_key, thumbnail_key
from sharer.thumbnail_sizes import THUMBNAIL_SIZES

# AWS managed cache and origin request policies (fixed ids, same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _config(synthesized: Synthesized) -> dict[str, Any]:
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    config: dict[str, Any] = distribution["DistributionConfig"]
    return config


def _origin(config: dict[str, Any], origin_id: str) -> dict[str, Any]:
    (origin,) = (o for o in config["Origins"] if o["Id"] == origin_id)
    found: dict[str, Any] = origin
    return found


def test_images_come_from_the_bucket_through_origin_access_control(
    synthesized: Synthesized,
) -> None:
    oac_id, oac = synthesized.only("AWS::CloudFront::OriginAccessControl")
    assert oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    config = _config(synthesized)
    (behavior,) = (b for b in config["CacheBehaviors"] if b["PathPattern"] == IMAGES_PATH)
    assert behavior["CachePolicyId"] == CACHING_OPTIMIZED
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    origin = _origin(config, behavior["TargetOriginId"])
    media_id = synthesized.bucket_id("BucketOwnerEnforced")
    assert origin["DomainName"] == {"Fn::GetAtt": [media_id, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_bucket_policy_lets_only_this_distribution_read_only_images(
    synthesized: Synthesized,
) -> None:
    distribution_id, _ = synthesized.only("AWS::CloudFront::Distribution")
    media_id = synthesized.bucket_id("BucketOwnerEnforced")
    _, policy = synthesized.only(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": media_id}}}
    )
    cloudfront = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        and statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    ]
    # One statement, images only (CDK's own OAC origin would add a grant of the whole
    # bucket, status records included), for this distribution only.
    (statement,) = cloudfront
    assert statement["Action"] == "s3:GetObject"
    assert render(statement["Resource"]) == f"<{media_id}.Arn>/images/*"
    source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert {"Ref": distribution_id} in source["Fn::Join"][1]
    status = f"<{media_id}.Arn>/{status_key(new_image_id())}"
    assert not fnmatchcase(status, render(statement["Resource"]))


def test_path_pattern_serves_image_objects_but_not_the_status_route() -> None:
    image_id = new_image_id()
    served = [original_key(image_id, JPEG)] + [
        thumbnail_key(image_id, s, f) for s in THUMBNAIL_SIZES for f in (JPEG, WEBP)
    ]
    assert all(fnmatchcase(key, IMAGES_PATH) for key in served)
    # GET /images/<id> is the server's status route; status records are never served.
    assert not fnmatchcase(f"images/{image_id}", IMAGES_PATH)
    assert not fnmatchcase(status_key(image_id), IMAGES_PATH)


def _balancer_origin(synthesized: Synthesized, config: dict[str, Any]) -> dict[str, Any]:
    """The origin every non-image behaviour uses: the VPC origin of the internal balancer."""
    balancer_id, _ = synthesized.only("AWS::ElasticLoadBalancingV2::LoadBalancer")
    vpc_origin_id, vpc_origin = synthesized.only("AWS::CloudFront::VpcOrigin")
    endpoint = vpc_origin["VpcOriginEndpointConfig"]
    assert endpoint["Arn"] == {"Ref": balancer_id}
    assert (endpoint["HTTPPort"], endpoint["OriginProtocolPolicy"]) == (LISTENER_PORT, "http-only")
    (origin,) = (o for o in config["Origins"] if "VpcOriginConfig" in o)
    assert origin["VpcOriginConfig"]["VpcOriginId"] == {"Fn::GetAtt": [vpc_origin_id, "Id"]}
    assert origin["DomainName"] == {"Fn::GetAtt": [balancer_id, "DNSName"]}
    found: dict[str, Any] = origin
    return found


def test_everything_else_goes_uncached_to_the_balancer(synthesized: Synthesized) -> None:
    config = _config(synthesized)
    default = config["DefaultCacheBehavior"]
    assert set(default["AllowedMethods"]) >= {"GET", "HEAD", "POST"}
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert default["TargetOriginId"] == _balancer_origin(synthesized, config)["Id"]
    # No origin is a public server: only the bucket and the VPC origin.
    assert len(config["Origins"]) == 2


def test_static_assets_and_share_pages_are_cached_as_the_server_says(
    synthesized: Synthesized,
) -> None:
    config = _config(synthesized)
    origin = _balancer_origin(synthesized, config)
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for path in (STATIC_PATH, SHARE_PAGES_PATH):
        behavior = behaviors[path]
        assert behavior["TargetOriginId"] == origin["Id"]
        assert behavior["AllowedMethods"] == ["GET", "HEAD"]
        policy_id = behavior["CachePolicyId"]["Ref"]
        policy = synthesized.resources("AWS::CloudFront::CachePolicy")[policy_id]["Properties"]
        ttl = policy["CachePolicyConfig"]
        # Nothing cached without Cache-Control; up to a year for immutable assets.
        assert (ttl["MinTTL"], ttl["DefaultTTL"]) == (0, 0)
        assert ttl["MaxTTL"] >= 31536000
    # Every other path (POST /, /healthz, the status route) takes the uncached default;
    # /metrics is answered 404 at the edge (tests/infra/test_quota_table.py), and the
    # negotiated thumbnails are images (tests/infra/test_variant_function.py).
    negotiated = set(negotiated_path_patterns())
    assert set(behaviors) == {IMAGES_PATH, STATIC_PATH, SHARE_PAGES_PATH, METRICS_PATH} | negotiated


def test_viewers_get_https_security_headers_and_uncached_misses(
    synthesized: Synthesized,
) -> None:
    config = _config(synthesized)
    # The security headers policy, and the negotiated thumbnails' one with Vary: Accept
    # beside the same security headers (tests/infra/test_variant_function.py).
    policies = synthesized.resources("AWS::CloudFront::ResponseHeadersPolicy")
    for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["ResponseHeadersPolicyId"]["Ref"] in policies
    for policy in policies.values():
        headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        assert headers["ContentTypeOptions"] == {"Override": True}
        assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    # A thumbnail's URL exists before the thumbnail: its 403 must not stick.
    errors = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]}
    assert errors == {403: 0, 404: 0}


def test_access_logs_go_to_the_log_bucket(synthesized: Synthesized) -> None:
    log_id = synthesized.bucket_id("BucketOwnerPreferred")
    assert _config(synthesized)["Logging"]["Bucket"] == {
        "Fn::GetAtt": [log_id, "RegionalDomainName"]
    }
