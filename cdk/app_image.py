"""The AMI both roles boot from: built by EC2 Image Builder at deploy time, rebuilt weekly.

The app reaches the image as an S3 asset of this repository (only what installing it
needs, see ``ARTIFACT_INCLUDE``), its dependencies as a second asset of locked wheels
(cdk/wheelhouse.py); the component installs both with no package index.

Recipes and components are immutable in Image Builder: a name and version that exists
cannot be created again with other contents. Their versions are therefore derived from
everything that shapes the image (``image_shape``: parent image, architecture, root
volume, components, the component document, the app and the wheels), so any change is a
new version, hence a new ``AWS::ImageBuilder::Image`` on the next deploy.

The fleets launch the deploy-time image's AMI by its id (``ami_id``, the Image's
``ImageId`` attribute), written into their launch templates: a new image is a new
template version, so CloudFormation's rollback of a failed update puts back the version
that names the old AMI, and that AMI lives until the update has succeeded (the Image is
replaced, and deletes its AMI, only in the cleanup after success). Nothing resolves a
parameter at launch, which a rollback would not restore.

Image Builder's distribution still writes each new AMI id, deploy-time build or weekly
rebuild, to the SSM parameter ``ami_parameter_name`` (with ``execution_role``; the
service-linked role may not write parameters outside ``/imagebuilder/``): it tells the
operator the newest tested AMI. No launch path reads it.

``execution_role`` is the role Image Builder assumes to run the build and test
workflows (launch the build instance, run the components, create the image, test it)
and the distribution: Image Builder user guide, "Manage build and test workflows for
Image Builder images", and the managed policy ``EC2ImageBuilderExecutionPolicy``.

Old AMIs and their snapshots do not pile up: a replaced deploy-time image is deleted with
them (deletion settings), and a lifecycle policy keeps the newest rebuilds only.
"""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Aws, IgnoreMode, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk.instance_settings import parameter_arn, parameter_name
from cdk.instances import ROOT_DEVICE, ROOT_VOLUME_GIB, ROOT_VOLUME_TYPE, https_only_security_group
from cdk.nag import acknowledge, grant_object_keys
from cdk.wheelhouse import wheelhouse

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPONENT_DOCUMENT = REPO_ROOT / "image-builder" / "components" / "sharer-app.yml"
# gitignore syntax: exclude everything at the top, then let back in what `pip install .`
# and the component need. Tests, docs, the CDK app and caches never change the image.
ARTIFACT_INCLUDE = ("pyproject.toml", "README.md", "src", "image-builder")
ARTIFACT_EXCLUDE = (
    "/*",
    *(f"!/{name}" for name in ARTIFACT_INCLUDE),
    "__pycache__/",
    "*.py[cod]",
    "*.egg-info/",
)
PARENT_IMAGES = {"x86_64": "amazon-linux-2023-x86", "arm64": "amazon-linux-2023-arm64"}
CLOUDWATCH_AGENT_COMPONENT = "amazon-cloudwatch-agent-linux/x.x.x"
# What Image Builder needs on its build instance: SSM runs the AWSTOE documents, the
# Image Builder policy lets the instance report back.
BUILD_MANAGED_POLICIES = ("EC2InstanceProfileForImageBuilder", "AmazonSSMManagedInstanceCore")
# What Image Builder needs to run the build and test workflows as the execution role.
EXECUTION_MANAGED_POLICY = "EC2ImageBuilderExecutionPolicy"
# Deregisters Image Builder's AMIs and deletes their snapshots (those tagged CreatedBy).
LIFECYCLE_MANAGED_POLICY = "service-role/EC2ImageBuilderLifecycleExecutionPolicy"
LOG_PREFIX = "imagebuilder"
# Sunday 04:00 UTC; the pipeline only builds if a dependency has a newer version.
REBUILD_SCHEDULE = "cron(0 4 ? * sun *)"
TEST_TIMEOUT_MINUTES = 60
# Rebuilt AMIs kept by the lifecycle policy: the current one and the one before it.
REBUILDS_KEPT = 2
IMAGE_TAG = "sharer:image"


def image_version(shape: Mapping[str, Any]) -> str:
    """A semantic version Image Builder accepts (each part < 2^30), unique to ``shape``."""
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
    return f"1.0.{int(digest[:7], 16)}"


def image_shape(
    *,
    architecture: str,
    component_document: str,
    artifact_hash: str,
    wheelhouse_hash: str,
    refresh: str | None = None,
) -> dict[str, Any]:
    """Everything the recipe is made of, as plain values: what its version must follow.

    ``refresh`` (the ``imageRefresh`` context value) changes nothing in the recipe but
    its version, so a deploy builds the image again from the newest parent image.
    """
    component = {
        "document": component_document,
        "artifact": artifact_hash,
        "wheelhouse": wheelhouse_hash,
    }
    refreshed = {} if refresh is None else {"refresh": refresh}
    return {
        **refreshed,
        "parent_image": PARENT_IMAGES[architecture],
        "architecture": architecture,
        "root_volume": {
            "device": ROOT_DEVICE,
            "size_gib": ROOT_VOLUME_GIB,
            "type": ROOT_VOLUME_TYPE,
            "encrypted": True,
        },
        "components": [CLOUDWATCH_AGENT_COMPONENT, {"app": image_version(component)}],
    }


class AppImage(Construct):
    """Component, recipe, build infrastructure, the deploy-time image and the pipeline.

    ``image`` is the deploy-time build, ``ami_id`` its AMI (what the fleets launch), and
    the parameter ``ami_parameter_name`` (data type aws:ec2:image) names the newest AMI
    built, for the operator; ``version`` follows everything that shapes the image;
    ``component_version`` is the app component's; ``execution_role`` runs the workflows.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        architecture: str,
        build_instance_type: str,
        log_bucket: s3.IBucket,
        refresh: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = f"{Stack.of(self).stack_name}-sharer"
        self.ami_parameter_name = parameter_name(self, "ami")
        artifact = s3_assets.Asset(
            self,
            "AppArtifact",
            path=str(REPO_ROOT),
            exclude=list(ARTIFACT_EXCLUDE),
            ignore_mode=IgnoreMode.GIT,
        )
        wheels = s3_assets.Asset(self, "Wheelhouse", path=str(wheelhouse(architecture)))
        component_document = COMPONENT_DOCUMENT.read_text(encoding="utf-8")
        shape = image_shape(
            architecture=architecture,
            component_document=component_document,
            artifact_hash=artifact.asset_hash,
            wheelhouse_hash=wheels.asset_hash,
            refresh=refresh,
        )
        self.component_version = shape["components"][1]["app"]
        self.version = image_version(shape)
        infrastructure, build_role = self._infrastructure(
            vpc, build_instance_type, [artifact, wheels], log_bucket
        )
        recipe = self._recipe(architecture, component_document, artifact, wheels)
        self.execution_role, execution_policy = self._execution_role(build_role)
        lifecycle_role = self._lifecycle_role()
        distribution = self._distribution()
        self.image = imagebuilder.CfnImage(
            self,
            "Image",
            image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            distribution_configuration_arn=distribution.attr_arn,
            execution_role=self.execution_role.role_arn,
            deletion_settings=imagebuilder.CfnImage.DeletionSettingsProperty(
                execution_role=lifecycle_role.role_arn
            ),
            image_tests_configuration=imagebuilder.CfnImage.ImageTestsConfigurationProperty(
                image_tests_enabled=True, timeout_minutes=TEST_TIMEOUT_MINUTES
            ),
            enhanced_image_metadata_enabled=True,
        )
        # The build downloads the assets at once and publishes the id at its end: both
        # roles' policies must be in place.
        self.image.node.add_dependency(build_role, execution_policy)
        self.ami_id = self.image.attr_image_id
        pipeline_type = imagebuilder.CfnImagePipeline
        pipeline_type(
            self,
            "Pipeline",
            name=self._prefix,
            description="Weekly rebuild of the sharer AMI if Amazon Linux or a component changed.",
            image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            distribution_configuration_arn=distribution.attr_arn,
            execution_role=self.execution_role.role_arn,
            image_tags={IMAGE_TAG: self._prefix},
            image_tests_configuration=pipeline_type.ImageTestsConfigurationProperty(
                image_tests_enabled=True, timeout_minutes=TEST_TIMEOUT_MINUTES
            ),
            schedule=pipeline_type.ScheduleProperty(
                schedule_expression=REBUILD_SCHEDULE,
                pipeline_execution_start_condition="EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE",
            ),
            status="ENABLED",
        )
        self._lifecycle_policy(lifecycle_role)

    def _infrastructure(
        self,
        vpc: ec2.IVpc,
        instance_type: str,
        assets: list[s3_assets.Asset],
        log_bucket: s3.IBucket,
    ) -> tuple[imagebuilder.CfnInfrastructureConfiguration, iam.Role]:
        role = iam.Role(
            self,
            "BuildRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Image Builder build and test instances of the sharer AMI.",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in BUILD_MANAGED_POLICIES
            ],
        )
        for name in BUILD_MANAGED_POLICIES:
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]",
                "Image Builder requires this managed policy on its build instance "
                "(SSM runs the AWSTOE documents; the Image Builder policy reports back).",
            )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in assets],
            )
        )
        grant_object_keys(
            role,
            log_bucket,
            ["s3:PutObject"],
            [f"{LOG_PREFIX}/*"],
            "Build logs go under one prefix of the log bucket, a key per build and step.",
        )
        security_group = https_only_security_group(
            self,
            "BuildSecurityGroup",
            vpc=vpc,
            description="Image Builder instances: nothing in, HTTPS out (dnf, S3, SSM).",
        )
        infrastructure_type = imagebuilder.CfnInfrastructureConfiguration
        infrastructure = infrastructure_type(
            self,
            "Infrastructure",
            name=self._prefix,
            instance_profile_name=iam.InstanceProfile(
                self, "BuildInstanceProfile", role=role
            ).instance_profile_name,
            instance_types=[instance_type],
            subnet_id=vpc.public_subnets[0].subnet_id,
            security_group_ids=[security_group.security_group_id],
            instance_metadata_options=infrastructure_type.InstanceMetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=2
            ),
            logging=infrastructure_type.LoggingProperty(
                s3_logs=infrastructure_type.S3LogsProperty(
                    s3_bucket_name=log_bucket.bucket_name, s3_key_prefix=LOG_PREFIX
                )
            ),
            terminate_instance_on_failure=True,
        )
        return infrastructure, role

    def _recipe(
        self,
        architecture: str,
        component_document: str,
        artifact: s3_assets.Asset,
        wheels: s3_assets.Asset,
    ) -> imagebuilder.CfnImageRecipe:
        component = imagebuilder.CfnComponent(
            self,
            "AppComponent",
            name=f"{self._prefix}-app",
            platform="Linux",
            version=self.component_version,
            supported_os_versions=["Amazon Linux 2023"],
            change_description=f"artifact {artifact.asset_hash}, wheels {wheels.asset_hash}",
            data=component_document,
        )
        recipe_type = imagebuilder.CfnImageRecipe
        return recipe_type(
            self,
            "Recipe",
            name=self._prefix,
            version=self.version,
            parent_image=_aws_owned_arn("image", f"{PARENT_IMAGES[architecture]}/x.x.x"),
            components=[
                recipe_type.ComponentConfigurationProperty(
                    component_arn=_aws_owned_arn("component", CLOUDWATCH_AGENT_COMPONENT)
                ),
                recipe_type.ComponentConfigurationProperty(
                    component_arn=component.attr_arn,
                    parameters=[
                        recipe_type.ComponentParameterProperty(
                            name="ArtifactUri", value=[artifact.s3_object_url]
                        ),
                        recipe_type.ComponentParameterProperty(
                            name="WheelhouseUri", value=[wheels.s3_object_url]
                        ),
                    ],
                ),
            ],
            block_device_mappings=[
                recipe_type.InstanceBlockDeviceMappingProperty(
                    device_name=ROOT_DEVICE,
                    ebs=recipe_type.EbsInstanceBlockDeviceSpecificationProperty(
                        encrypted=True,
                        volume_type=ROOT_VOLUME_TYPE,
                        volume_size=ROOT_VOLUME_GIB,
                        delete_on_termination=True,
                    ),
                )
            ],
        )

    def _execution_role(self, build_role: iam.Role) -> tuple[iam.Role, iam.Policy]:
        # Image Builder user guide, "Manage build and test workflows for Image Builder
        # images": the build and test stages are workflows Image Builder runs as this role;
        # EC2ImageBuilderExecutionPolicy is the managed policy for them. "Create and update
        # AMI distribution configurations": writing the AMI id to a parameter needs
        # ssm:PutParameter on it, and ec2:DescribeImages for the aws:ec2:image data type.
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("imagebuilder.amazonaws.com"),
            description="Image Builder running the sharer AMI's build, test and distribution.",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(EXECUTION_MANAGED_POLICY)
            ],
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{EXECUTION_MANAGED_POLICY}]",
            "Image Builder documents this managed policy for the role that runs its build "
            "and test workflows; AWS keeps it in step with the workflow actions.",
        )
        policy = iam.Policy(
            self,
            "ExecutionPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["ssm:PutParameter"],
                    resources=[parameter_arn(self, self.ami_parameter_name)],
                ),
                iam.PolicyStatement(actions=["ec2:DescribeImages"], resources=["*"]),
                # The workflows launch the build and test instances with this role.
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[build_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                ),
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeImages supports no resource-level permissions; it only reads image "
            "metadata, so SSM can check that the published value is an AMI id.",
        )
        return role, policy

    def _lifecycle_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "LifecycleRole",
            assumed_by=iam.ServicePrincipal("imagebuilder.amazonaws.com"),
            description="Image Builder deleting old sharer AMIs and their snapshots.",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(LIFECYCLE_MANAGED_POLICY)
            ],
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{LIFECYCLE_MANAGED_POLICY}]",
            "The managed lifecycle policy is what Image Builder documents for lifecycle and "
            "deletion; it only reaches images and snapshots tagged as Image Builder's own.",
        )
        return role

    def _lifecycle_policy(self, role: iam.Role) -> None:
        policy_type = imagebuilder.CfnLifecyclePolicy
        policy_type(
            self,
            "LifecyclePolicy",
            name=self._prefix,
            description="Keeps the newest rebuilt sharer AMIs, deletes older ones and snapshots.",
            execution_role=role.role_arn,
            resource_type="AMI_IMAGE",
            resource_selection=policy_type.ResourceSelectionProperty(
                tag_map={IMAGE_TAG: self._prefix}
            ),
            policy_details=[
                policy_type.PolicyDetailProperty(
                    action=policy_type.ActionProperty(
                        type="DELETE",
                        include_resources=policy_type.IncludeResourcesProperty(
                            amis=True, snapshots=True
                        ),
                    ),
                    filter=policy_type.FilterProperty(type="COUNT", value=REBUILDS_KEPT),
                )
            ],
            status="ENABLED",
        )

    def _distribution(self) -> imagebuilder.CfnDistributionConfiguration:
        distribution_type = imagebuilder.CfnDistributionConfiguration
        return distribution_type(
            self,
            "Distribution",
            name=self._prefix,
            distributions=[
                distribution_type.DistributionProperty(
                    region=Aws.REGION,
                    ami_distribution_configuration={
                        "Name": f"{self._prefix}-{{{{ imagebuilder:buildDate }}}}",
                        "AmiTags": {"sharer:app-version": self.version},
                    },
                    ssm_parameter_configurations=[
                        distribution_type.SsmParameterConfigurationProperty(
                            parameter_name=self.ami_parameter_name, data_type="aws:ec2:image"
                        )
                    ],
                )
            ],
        )


def _aws_owned_arn(resource: str, name: str) -> str:
    """ARN of an AWS-owned Image Builder image or component in the stack's region."""
    return f"arn:{Aws.PARTITION}:imagebuilder:{Aws.REGION}:aws:{resource}/{name}"
