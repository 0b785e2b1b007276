"""The CDK app: `cdk synth` and `cdk deploy` run this (see cdk.json and docs/deploy.md)."""

from aws_cdk import App

from cdk.stack import FEATURE_FLAGS, build

if __name__ == "__main__":
    app = App(context=FEATURE_FLAGS)
    build(app)
    app.synth()
