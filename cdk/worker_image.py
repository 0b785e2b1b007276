"""The AMI both roles boot from: built by EC2 Image Builder at deploy time, rebuilt weekly.

The app reaches the image as an S3 asset of this repository (only what installing it
needs, see ``ARTIFACT_INCLUDE``); the component downloads it and pip-installs it into a
venv. Component and recipe versions are derived from the asset's hash, so a new version of
the app is a new recipe, hence a new ``AWS::ImageBuilder::Image`` on the next deploy.

The AMI id lands in an SSM parameter that the workers' launch template resolves at every
launch. The deploy-time image writes it through CloudFormation; the scheduled pipeline,
which builds only when Amazon Linux or the CloudWatch agent has an update, overwrites
it, so workers launched after a rebuild boot the patched image.
"""

from pathlib import Path

from aws_cdk import Aws, IgnoreMode, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.instances import ROOT_DEVICE, ROOT_VOLUME_GIB, https_only_security_group
from cdk.nag import acknowledge, grant_object_keys
from cdk.settings import parameter_name

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
LOG_PREFIX = "imagebuilder"
# Sunday 04:00 UTC; the pipeline only builds if a dependency has a newer version.
REBUILD_SCHEDULE = "cron(0 4 ? * sun *)"
TEST_TIMEOUT_MINUTES = 60


def version_from_hash(asset_hash: str) -> str:
    """A semantic version Image Builder accepts (each part < 2^30), unique to an artifact."""
    return f"1.0.{int(asset_hash[:7], 16)}"


class WorkerImage(Construct):
    """Component, recipe, build infrastructure, the deploy-time image and the pipeline.

    ``image_id`` is the AMI built by this deploy; ``ami_parameter`` (named
    ``ami_parameter_name``, data type aws:ec2:image) holds the newest AMI, which the
    pipeline may replace; ``version`` is the app's version, derived from its artifact.
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
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = f"{Stack.of(self).stack_name}-sharer"
        artifact = s3_assets.Asset(
            self,
            "AppArtifact",
            path=str(REPO_ROOT),
            exclude=list(ARTIFACT_EXCLUDE),
            ignore_mode=IgnoreMode.GIT,
        )
        self.version = version_from_hash(artifact.asset_hash)
        infrastructure, build_role = self._infrastructure(
            vpc, build_instance_type, artifact, log_bucket
        )
        recipe = self._recipe(architecture, artifact)
        image = imagebuilder.CfnImage(
            self,
            "Image",
            image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            image_tests_configuration=imagebuilder.CfnImage.ImageTestsConfigurationProperty(
                image_tests_enabled=True, timeout_minutes=TEST_TIMEOUT_MINUTES
            ),
            enhanced_image_metadata_enabled=True,
        )
        # The build downloads the artifact at once: its role's policy must be in place.
        image.node.add_dependency(build_role)
        self.image_id = image.attr_image_id
        self.ami_parameter_name = parameter_name(self, "ami")
        self.ami_parameter = ssm.StringParameter(
            self,
            "AmiParameter",
            parameter_name=self.ami_parameter_name,
            description="AMI the sharer workers launch from; the rebuild pipeline updates it.",
            data_type=ssm.ParameterDataType.AWS_EC2_IMAGE,
            string_value=image.attr_image_id,
        )
        imagebuilder.CfnImagePipeline(
            self,
            "Pipeline",
            name=self._prefix,
            description="Weekly rebuild of the sharer AMI if Amazon Linux or a component changed.",
            image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            distribution_configuration_arn=self._distribution().attr_arn,
            image_tests_configuration=imagebuilder.CfnImagePipeline.ImageTestsConfigurationProperty(
                image_tests_enabled=True, timeout_minutes=TEST_TIMEOUT_MINUTES
            ),
            schedule=imagebuilder.CfnImagePipeline.ScheduleProperty(
                schedule_expression=REBUILD_SCHEDULE,
                pipeline_execution_start_condition="EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE",
            ),
            status="ENABLED",
        )

    def _infrastructure(
        self,
        vpc: ec2.IVpc,
        instance_type: str,
        artifact: s3_assets.Asset,
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
                resources=[artifact.bucket.arn_for_objects(artifact.s3_object_key)],
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
            description="Image Builder instances: nothing in, HTTPS out (dnf, PyPI, S3, SSM).",
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

    def _recipe(self, architecture: str, artifact: s3_assets.Asset) -> imagebuilder.CfnImageRecipe:
        component = imagebuilder.CfnComponent(
            self,
            "AppComponent",
            name=f"{self._prefix}-app",
            platform="Linux",
            version=self.version,
            supported_os_versions=["Amazon Linux 2023"],
            change_description=f"artifact {artifact.asset_hash}",
            data=COMPONENT_DOCUMENT.read_text(encoding="utf-8"),
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
                        )
                    ],
                ),
            ],
            block_device_mappings=[
                recipe_type.InstanceBlockDeviceMappingProperty(
                    device_name=ROOT_DEVICE,
                    ebs=recipe_type.EbsInstanceBlockDeviceSpecificationProperty(
                        encrypted=True,
                        volume_type="gp3",
                        volume_size=ROOT_VOLUME_GIB,
                        delete_on_termination=True,
                    ),
                )
            ],
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
