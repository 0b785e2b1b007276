"""A model of the deployed worker fleet, for sizing it before anyone deploys: a
discrete-event simulator of uploads, SQS and the Auto Scaling group, its plots, a
CloudWatch metric-math evaluator, dated price tables and the cost model.

A tool, not a construct: it reads the deployed policy's plain values from ``cdk.scaling``
and ``cdk.config``, and the CDK app never imports it. Every measured input (the
calibration, the request counts) is a path its caller gives.
"""
