"""The edge's negotiation of thumbnail variants: the CloudFront Function run for real
under Node against real clients' Accept headers, and the template that wires it (its
behaviours, Vary: Accept, a cache key without Accept, and access to the variant keys)."""

import json
import shutil
import subprocess
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template
from cdk_synthesis import Synthesized, grants, render

from cdk.cdn import IMAGES_PATH, Cdn
from cdk.config import config_from_context
from cdk.variant_function import negotiated_path_patterns, variant_function_code
from sharer.formats import ACCEPTED, JPEG, WEBP, ImageFormat
from sharer.ids import new_image_id
from sharer.key_scheme import variant_key
from sharer.messages import job_for_upload
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from sharer.thumbnail_variants import VARIANT_SIZES, variants_of
from support import accept_headers

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# Runs the function's code as CloudFront would call it, once per case (JSON on stdin).
_NODE_HARNESS = """
const fs = require("fs");
const [code, cases] = JSON.parse(fs.readFileSync(0, "utf8"));
const handler = new Function(code + "\\nreturn handler;")();
const uris = cases.map(([uri, accept]) => {
  const headers = accept === null ? {} : { accept: { value: accept } };
  return handler({ request: { method: "GET", uri, querystring: {}, headers, cookies: {} } }).uri;
});
process.stdout.write(JSON.stringify(uris));
"""


def _rewritten(cases: Sequence[tuple[str, str | None]]) -> list[str]:
    node = shutil.which("node")
    assert node is not None, "node is needed to run the CloudFront Function"
    result = subprocess.run(
        [node, "-e", _NODE_HARNESS],
        input=json.dumps([variant_function_code(), cases]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    uris: list[str] = json.loads(result.stdout)
    return uris


def _served_format(uri: str) -> ImageFormat:
    (found,) = (f for f in ACCEPTED.values() if uri.endswith(f".{f.extension}"))
    return found


@pytest.mark.parametrize("webp_too", [False, True], ids=["as built", "WebP too"])
def test_each_client_gets_the_variant_it_names_and_curl_the_jpeg(
    webp_too: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if webp_too:  # a policy that makes WebP at every size as well: the WebP rules
        monkeypatch.setitem(VARIANT_SIZES, WEBP.name, frozenset(THUMBNAIL_NAMES))
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    clients = sorted(accept_headers.NAMED_VARIANTS)
    cases = [(f"/{spec.key}", accept) for spec in job.thumbnails for accept in clients]
    for (uri, accept), rewritten in zip(cases, _rewritten(cases), strict=True):
        name = uri.rsplit("/", 1)[1].split(".")[0]
        made = tuple(f.media_type for f in variants_of(JPEG, name))
        expected = accept_headers.expected_media_type(accept, made)
        assert _served_format(rewritten).media_type == expected, (uri, accept)
        assert rewritten.rsplit(".", 1)[0] == uri.rsplit(".", 1)[0]


def test_other_requests_keep_their_uri() -> None:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    alpha = job_for_upload(new_image_id(), JPEG, has_alpha=True)
    large = f"/{job.thumbnails[0].key}"
    cases: list[tuple[str, str | None]] = [
        (f"/{job.original_key}", accept_headers.CHROMIUM),
        (f"/{alpha.thumbnails[0].key}", accept_headers.CHROMIUM),  # WebP already
        (large, None),
        (large, ""),
        (large, "image/avif;q=0, image/webp;q=0"),
        (large, "image/avif;q=abc"),
        (large + "?x=1", accept_headers.CHROMIUM),
        (f"/images/{new_image_id()}x/large.jpg", accept_headers.CHROMIUM),
    ]
    assert _rewritten(cases) == [uri for uri, _ in cases]


def _config(synthesized: Synthesized) -> dict[str, Any]:
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    config: dict[str, Any] = distribution["DistributionConfig"]
    return config


def test_negotiated_thumbnails_run_the_function_and_vary_on_accept(
    synthesized: Synthesized,
) -> None:
    function_arn = Capture()
    synthesized.template.has_resource_properties(
        "AWS::CloudFront::Function",
        {
            "FunctionCode": variant_function_code(),
            "FunctionConfig": Match.object_like({"Runtime": "cloudfront-js-2.0"}),
            "AutoPublish": True,
        },
    )
    policy_id, _ = synthesized.only(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "Properties": {
                "ResponseHeadersPolicyConfig": Match.object_like(
                    {
                        "CustomHeadersConfig": {
                            "Items": [{"Header": "Vary", "Value": "Accept", "Override": True}]
                        },
                        "SecurityHeadersConfig": Match.object_like(
                            {"StrictTransportSecurity": Match.any_value()}
                        ),
                    }
                )
            }
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "CacheBehaviors": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "PathPattern": pattern,
                                    "CachePolicyId": CACHING_OPTIMIZED,
                                    "ResponseHeadersPolicyId": {"Ref": policy_id},
                                    "FunctionAssociations": [
                                        {"EventType": "viewer-request", "FunctionARN": function_arn}
                                    ],
                                }
                            )
                            for pattern in negotiated_path_patterns()
                        ]
                    )
                }
            )
        },
    )
    assert function_arn.as_object()["Fn::GetAtt"][1] == "FunctionARN"


def test_negotiated_behaviours_come_before_the_images_one_and_share_its_origin(
    synthesized: Synthesized,
) -> None:
    behaviours = _config(synthesized)["CacheBehaviors"]
    patterns = [b["PathPattern"] for b in behaviours]
    images = patterns.index(IMAGES_PATH)
    origin = behaviours[images]["TargetOriginId"]
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    for spec in job.thumbnails:
        # CloudFront takes the first pattern that matches the request's path.
        first = next(b for b in behaviours if fnmatchcase(spec.key, b["PathPattern"]))
        assert patterns.index(first["PathPattern"]) < images
        assert first["TargetOriginId"] == origin
        assert "FunctionAssociations" in first
    assert not fnmatchcase(job.original_key, patterns[0])
    # The cache key is the (rewritten) URI alone: no Accept header in it.
    assert all(b["CachePolicyId"] == CACHING_OPTIMIZED for b in behaviours[: images + 1])


@pytest.fixture(scope="module")
def variant_keys() -> list[str]:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    return [
        variant_key(spec.key, image_format)
        for spec in job.thumbnails
        for image_format in variants_of(JPEG, spec.name)
    ]


def test_the_distribution_may_read_every_variant(
    synthesized: Synthesized, variant_keys: list[str]
) -> None:
    media_id = synthesized.bucket_id("BucketOwnerEnforced")
    _, policy = synthesized.only(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": media_id}}}
    )
    (statement,) = (
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    )
    assert statement["Action"] == "s3:GetObject"
    for key in variant_keys:
        assert fnmatchcase(f"<{media_id}.Arn>/{key}", render(statement["Resource"]))


def test_the_worker_writes_and_both_roles_delete_every_variant(
    synthesized: Synthesized, variant_keys: list[str]
) -> None:
    media = f"<{synthesized.bucket_id('BucketOwnerEnforced')}.Arn>"
    worker = grants(synthesized, synthesized.role_id("worker"))
    server = grants(synthesized, synthesized.role_id("server"))
    assert len(variant_keys) >= len(THUMBNAIL_NAMES)
    for key in variant_keys:
        assert any(fnmatchcase(f"{media}/{key}", p) for p in worker["s3:PutObject"])
        for role in (worker, server):
            assert any(fnmatchcase(f"{media}/{key}", p) for p in role["s3:DeleteObject"])
        assert not any(fnmatchcase(f"{media}/{key}", p) for p in server.get("s3:PutObject", ()))


def _bare_cdn(*, negotiate_variants: bool) -> Template:
    """The Cdn construct alone in a bare stack."""
    stack = Stack(App(), "Edge")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    Cdn(
        stack,
        "Cdn",
        bucket=s3.Bucket(stack, "Media"),
        log_bucket=s3.Bucket(
            stack, "Logs", object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED
        ),
        load_balancer=elbv2.ApplicationLoadBalancer(
            stack, "Balancer", vpc=vpc, internet_facing=False
        ),
        load_balancer_port=80,
        read_timeout=Duration.seconds(30),
        keepalive_timeout=Duration.seconds(5),
        negotiate_variants=negotiate_variants,
    )
    return Template.from_stack(stack)


def test_edge_variants_false_leaves_the_edge_as_before_variants() -> None:
    """The first deploy over existing images: no function until their backfill is done."""
    context: dict[str, Any] = {"edgeVariants": "false"}
    config = config_from_context(context.get)
    assert config.edge_variants is False
    context.clear()
    assert config_from_context(context.get).edge_variants is True
    template = _bare_cdn(negotiate_variants=config.edge_variants)
    # Other functions may stand at the edge (the /metrics refusal); not the variants'.
    variant_functions = template.find_resources(
        "AWS::CloudFront::Function", {"Properties": {"FunctionCode": variant_function_code()}}
    )
    assert variant_functions == {}
    behaviours = Capture()
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {"DistributionConfig": Match.object_like({"CacheBehaviors": behaviours})},
    )
    assert behaviours.as_array()[0]["PathPattern"] == IMAGES_PATH
