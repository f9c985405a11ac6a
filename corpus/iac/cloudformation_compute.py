"""CloudFormation examples for compute and networking: Lambda functions with log groups, VPCs and security groups."""

from __future__ import annotations

import random
import textwrap
from typing import Any

from .cloudformation import (
    Draft,
    Fn,
    GetAtt,
    Ref,
    Sub,
    draft,
    finish,
    kms_key,
    output,
    param,
    service_key_grant,
    template,
)
from .cloudformation_messaging import cmk_encryption, queue

_RETENTION_VALUES = [7, 14, 30, 60, 90, 180, 365]

# --- Lambda function + log group ------------------------------------------------------------------------------

_PY_WEBHOOK = '''
import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    logger.info("webhook received", extra={"order_id": body.get("orderId")})
    return {"statusCode": 202, "body": json.dumps({"accepted": True})}
'''

_JS_AUDIT = '''
exports.handler = async (event) => {
  const { bucket, object } = event.detail;
  console.log(JSON.stringify({ bucket: bucket.name, key: object.key, size: object.size }));
};
'''

_PY_REPORT = '''
import os


def handler(event, context):
    period = event.get("period", "yesterday")
    print(f"building {period} report into s3://{os.environ['REPORT_BUCKET']}/")
    return {"period": period}
'''

_PY_HEALTH = '''
import os
import socket


def handler(event, context):
    host, port = os.environ["DB_HOST"], int(os.environ["DB_PORT"])
    with socket.create_connection((host, port), timeout=3):
        return {"reachable": True}
'''

_PY_NOTIFY = '''
import json
import os
import urllib.request

import boto3

secrets = boto3.client("secretsmanager")


def handler(event, context):
    url = secrets.get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ARN"])["SecretString"]
    data = json.dumps({"text": event.get("message", "ping")}).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return {"status": response.status}
'''

_PY_TAGGER = '''
import json


def handler(event, context):
    key = event["detail"]["object"]["key"]
    tags = ["image"] if key.lower().endswith((".jpg", ".jpeg", ".png")) else ["other"]
    print(json.dumps({"key": key, "tags": tags}))
    return {"key": key, "tags": tags}
'''

_JS_PRICES = '''
exports.handler = async (event) => {
  const { sku, price, currency } = event.detail;
  if (!sku || price < 0) throw new Error(`invalid price event for ${sku}`);
  console.log(JSON.stringify({ sku, price, currency, stage: process.env.STAGE }));
};
'''

_FUNCTIONS = [
    {"name": "order-webhook", "runtime": "python3.13", "code": _PY_WEBHOOK, "memory": 256, "timeout": 10,
     "retention": 30, "concurrency": 50, "env": {"LOG_LEVEL": "INFO"},
     "trigger": "called synchronously by API Gateway"},
    {"name": "s3-audit-logger", "runtime": "nodejs24.x", "code": _JS_AUDIT, "memory": 128, "timeout": 15,
     "retention": 90, "concurrency": 20, "dlq": True, "env": {"NODE_OPTIONS": "--enable-source-maps"},
     "trigger": "invoked asynchronously by an EventBridge rule for S3 object events"},
    {"name": "nightly-report", "runtime": "python3.14", "code": _PY_REPORT, "memory": 1024, "timeout": 300,
     "retention": 14, "concurrency": 1, "dlq": True, "env": {"REPORT_BUCKET": Ref("ReportBucketName")},
     "params": {"ReportBucketName": "Bucket the report is written to."},
     "trigger": "started once a night by a schedule"},
    {"name": "db-health-check", "runtime": "python3.13", "code": _PY_HEALTH, "memory": 128, "timeout": 10,
     "retention": 60, "concurrency": 2, "vpc": True, "env": {"DB_HOST": Ref("DbHost"), "DB_PORT": "5432"},
     "params": {"DbHost": "Private DNS name of the database."},
     "trigger": "run inside private subnets to check that the database port answers"},
    {"name": "image-tagger", "runtime": "python3.13", "code": _PY_TAGGER, "memory": 512, "timeout": 30,
     "retention": 7, "concurrency": 10, "xray": True, "env": {"POWERTOOLS_SERVICE_NAME": "image-tagger"},
     "trigger": "called synchronously by the upload API and traced with X-Ray"},
    {"name": "chat-notifier", "runtime": "python3.13", "code": _PY_NOTIFY, "memory": 128, "timeout": 10,
     "retention": 30, "concurrency": 5, "secret": True, "env": {"WEBHOOK_SECRET_ARN": Ref("WebhookSecretArn")},
     "params": {"WebhookSecretArn": "Secrets Manager secret holding the chat webhook URL."},
     "trigger": "called synchronously by other services to post chat messages, reading the webhook URL from "
                "Secrets Manager"},
    {"name": "price-sync", "runtime": "nodejs24.x", "code": _JS_PRICES,
     "memory": 256, "timeout": 60, "retention": 180, "concurrency": 3, "dlq": True, "env": {"STAGE": "prod"},
     "trigger": "invoked asynchronously by price-change events"},
]

_FN_ASKS = [
    "Write a CloudFormation template for a Lambda function named {name} ({runtime}, {memory} MB, {timeout} s "
    "timeout) that is {trigger}. Create its log group with {retention}-day retention and a least-privilege role.",
    "Create the {name} Lambda function with CloudFormation: runtime {runtime}, memory {memory} MB, timeout "
    "{timeout} seconds. It is {trigger}. Logs must be KMS-encrypted and kept {retention} days.",
    "I need CloudFormation for a small {runtime} Lambda ({name}) {trigger}. Give it its own encrypted log group "
    "(retention {retention} days), cap concurrency at {concurrency}, and a role with only what it needs.",
]


def _fn_doc(spec: dict) -> dict:
    params: dict[str, Any] = {
        "FunctionName": param("Function name.", spec["name"]),
    }
    params |= {name: param(text) for name, text in spec.get("params", {}).items()}
    log_arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${FunctionName}"
    resources: dict[str, Any] = {
        "Key": kms_key("Encrypts the function's logs and environment variables", service_key_grant(
            "AllowLogGroupEncryption", Sub("logs.${AWS::Region}.amazonaws.com"),
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": Sub(log_arn)}})),
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": Sub("/aws/lambda/${FunctionName}"), "RetentionInDays": spec["retention"],
            "KmsKeyId": GetAtt("Key", "Arn")}},
    }
    statements: list[dict] = [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": GetAtt("LogGroup", "Arn")},
        # Decrypt for the environment variables; sending to the encrypted DLQ also needs a data key.
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if spec.get("dlq") else "kms:Decrypt",
         "Resource": GetAtt("Key", "Arn")},
    ]
    if spec.get("dlq"):
        resources["DeadLetterQueue"] = queue(Sub("${FunctionName}-dlq"), 14, cmk_encryption())
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage",
                           "Resource": GetAtt("DeadLetterQueue", "Arn")})
    if spec.get("secret"):
        statements.append({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": Ref("WebhookSecretArn")})
    role: dict[str, Any] = {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}
    managed = []
    if spec.get("vpc"):
        params["SubnetIds"] = param("Private subnets for the function.", type_="List<AWS::EC2::Subnet::Id>")
        params["SecurityGroupId"] = param("Security group allowed to reach the database.",
                                          type_="AWS::EC2::SecurityGroup::Id")
        managed.append(Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"))
    if spec.get("xray"):
        managed.append(Sub("arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"))
    if managed:
        role["ManagedPolicyArns"] = managed
    role["Policies"] = [{"PolicyName": "function", "PolicyDocument": {"Version": "2012-10-17",
                                                                      "Statement": statements}}]
    resources["Role"] = {"Type": "AWS::IAM::Role", "Properties": role}
    props: dict[str, Any] = {
        "FunctionName": Ref("FunctionName"), "Runtime": spec["runtime"], "Architectures": ["arm64"],
        "Handler": "index.handler", "Role": GetAtt("Role", "Arn"), "MemorySize": spec["memory"],
        "Timeout": spec["timeout"], "ReservedConcurrentExecutions": spec["concurrency"],
        "KmsKeyArn": GetAtt("Key", "Arn"), "Environment": {"Variables": spec["env"]},
        "LoggingConfig": {"LogGroup": Ref("LogGroup"), "LogFormat": "JSON"},
    }
    if spec.get("xray"):
        props["TracingConfig"] = {"Mode": "Active"}
    if spec.get("dlq"):
        props["DeadLetterConfig"] = {"TargetArn": GetAtt("DeadLetterQueue", "Arn")}
    if spec.get("vpc"):
        props["VpcConfig"] = {"SubnetIds": Ref("SubnetIds"), "SecurityGroupIds": [Ref("SecurityGroupId")]}
    props["Code"] = {"ZipFile": textwrap.dedent(spec["code"]).lstrip("\n")}
    resources["Function"] = {"Type": "AWS::Lambda::Function", "Properties": props}
    outputs = {"FunctionArn": output(GetAtt("Function", "Arn"), "Function ARN.")}
    return template(f"{spec['name']} Lambda function with an encrypted log group and least-privilege role.",
                    params, resources, outputs)


def _fn_prose(spec: dict) -> str:
    parts = [f"The stack owns the log group, so {spec['retention']}-day retention and KMS encryption apply from the "
             "first invocation, and the role can write only to that group."]
    if spec.get("dlq"):
        parts.append("Because invocations are asynchronous, events that still fail after Lambda's retries go to "
                     "an encrypted dead-letter queue.")
    elif spec.get("vpc"):
        parts.append("The function runs in your private subnets with a security group you control; the AWS "
                     "managed VPC access policy supplies the network-interface permissions.")
    elif spec.get("secret"):
        parts.append("The webhook URL is fetched from Secrets Manager at run time, so the secret is never stored "
                     "in an environment variable, and the role can read only that one secret.")
    elif spec.get("xray"):
        parts.append("Active tracing samples requests into X-Ray through the AWS managed write-only policy.")
    else:
        parts.append("Callers wait for the response, so failures surface to API Gateway instead of a dead-letter "
                     "queue.")
    parts.append(f"Reserved concurrency ({spec['concurrency']}) protects downstream systems, and the same key "
                 "encrypts the environment variables.")
    return " ".join(parts)


def _functions(rng: random.Random) -> list[Draft]:
    asks = _FN_ASKS * 3
    rng.shuffle(asks)
    return [draft(ask.format(**{k: v for k, v in spec.items() if isinstance(v, str | int)}), _fn_doc(spec), "yaml",
                  _fn_prose(spec)) for spec, ask in zip(_FUNCTIONS, asks, strict=False)]


# --- VPC ------------------------------------------------------------------------------------------------------

_VPCS = [
    {"cidr": "10.20.0.0/16", "azs": 2, "bits": 12, "gateways": ["s3"], "flow": "ALL", "endpoint_policy": True,
     "use": "an analytics workload that may only reach S3 buckets in this account"},
    {"cidr": "10.40.0.0/16", "azs": 3, "bits": 12, "gateways": ["s3", "dynamodb"], "flow": "ALL",
     "use": "internal microservices that only talk to S3 and DynamoDB"},
    {"cidr": "172.16.0.0/20", "azs": 2, "bits": 8, "gateways": [], "interfaces": ["ssm", "ssmmessages", "ec2messages"],
     "use": "private EC2 instances managed only through Session Manager"},
    {"cidr": "10.60.0.0/16", "azs": 2, "bits": 12, "gateways": ["s3"], "interfaces": ["ecr.api", "ecr.dkr"],
     "use": "container hosts that pull images from ECR without internet access"},
]


def _endpoint(service: str, **props: Any) -> dict:
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": Ref("Vpc"), "ServiceName": Sub(f"com.amazonaws.${{AWS::Region}}.{service}"), **props}}


def _vpc_doc(spec: dict) -> dict:
    params: dict[str, Any] = {"VpcCidr": param("CIDR block of the VPC (/16 to /24).", spec["cidr"])}
    resources: dict[str, Any] = {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
        "CidrBlock": Ref("VpcCidr"), "EnableDnsSupport": True, "EnableDnsHostnames": True,
        "Tags": [{"Key": "Name", "Value": Ref("AWS::StackName")}]}}}
    subnets = [f"PrivateSubnet{letter}" for letter in "ABC"[: spec["azs"]]]
    for index, subnet in enumerate(subnets):
        cidr = Fn("Select", [index, Fn("Cidr", [GetAtt("Vpc", "CidrBlock"), spec["azs"], spec["bits"]])])
        resources[subnet] = {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": Ref("Vpc"), "CidrBlock": cidr, "AvailabilityZone": Fn("Select", [index, Fn("GetAZs", "")]),
            "MapPublicIpOnLaunch": False}}
    resources["PrivateRouteTable"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": Ref("Vpc")}}
    for subnet in subnets:
        resources[f"{subnet}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": Ref(subnet), "RouteTableId": Ref("PrivateRouteTable")}}
    for service in spec["gateways"]:
        props: dict[str, Any] = {"VpcEndpointType": "Gateway", "RouteTableIds": [Ref("PrivateRouteTable")]}
        if spec.get("endpoint_policy"):
            props["PolicyDocument"] = {"Version": "2012-10-17", "Statement": [{
                "Sid": "OwnAccountBucketsOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
                "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceAccount": Ref("AWS::AccountId")}}}]}
        resources[f"{service.capitalize()}Endpoint"] = _endpoint(service, **props)
    if spec.get("interfaces"):
        resources["EndpointSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "HTTPS from inside the VPC to interface endpoints", "VpcId": Ref("Vpc"),
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                      "CidrIp": GetAtt("Vpc", "CidrBlock"), "Description": "HTTPS from the VPC"}]}}
        for service in spec["interfaces"]:
            name = "".join(part.capitalize() for part in service.split(".")) + "Endpoint"
            resources[name] = _endpoint(service, VpcEndpointType="Interface", PrivateDnsEnabled=True,
                                        SubnetIds=[Ref(subnet) for subnet in subnets],
                                        SecurityGroupIds=[Ref("EndpointSecurityGroup")])
    if spec.get("flow"):
        params["FlowLogBucketArn"] = param("ARN of the central flow-log bucket.")
        resources["FlowLog"] = {"Type": "AWS::EC2::FlowLog", "Properties": {
            "ResourceId": Ref("Vpc"), "ResourceType": "VPC", "TrafficType": spec["flow"], "MaxAggregationInterval": 60,
            "LogDestinationType": "s3", "LogDestination": Sub("${FlowLogBucketArn}/vpc-flow-logs/")}}
    outputs = {"VpcId": output(Ref("Vpc"), "VPC ID.", export="VpcId"),
               "PrivateSubnetIds": output(Fn("Join", [",", [Ref(subnet) for subnet in subnets]]),
                                          "Comma-separated private subnet IDs.", export="PrivateSubnetIds")}
    return template(f"Private VPC for {spec['use']}.", params, resources, outputs)


def _vpc_ask(spec: dict, rng: random.Random) -> str:
    reach = [f"{name.upper() if name == 's3' else 'DynamoDB'} gateway endpoint" for name in spec["gateways"]]
    reach += [f"{', '.join(spec['interfaces'])} interface endpoints"] if spec.get("interfaces") else []
    extra = " (endpoint policy limited to this account's buckets)" if spec.get("endpoint_policy") else ""
    flow = {"ALL": "; flow logs for all traffic to an existing S3 bucket",
            "REJECT": "; log rejected traffic to our flow-log bucket"}.get(spec.get("flow", ""), "")
    return rng.choice([
        f"Write a CloudFormation template for a VPC ({spec['cidr']}) for {spec['use']}: {spec['azs']} private subnets "
        f"in different AZs, no internet route, {' and '.join(reach)}{extra}{flow}.",
        f"CloudFormation: isolated VPC with CIDR {spec['cidr']} and {spec['azs']} private subnets across AZs for "
        f"{spec['use']}. Add {' plus '.join(reach)}{extra}{flow}.",
    ])


def _vpc_prose(spec: dict) -> str:
    parts = ["The subnets have no internet or NAT route and never assign public IPs; Fn::Cidr derives their "
             "ranges from VpcCidr."]
    if spec.get("interfaces"):
        parts.append("Interface endpoints with private DNS keep the AWS API calls inside the VPC, and their "
                     "security group accepts HTTPS only from the VPC range.")
    if spec.get("endpoint_policy"):
        parts.append("The S3 endpoint policy only allows buckets owned by this account, which blocks copying data "
                     "to a bucket elsewhere through the endpoint.")
    elif spec["gateways"]:
        parts.append("Gateway endpoints keep S3 and DynamoDB traffic on the AWS network at no hourly charge.")
    if spec.get("flow"):
        parts.append("Flow logs with one-minute aggregation go to your central S3 bucket.")
    return " ".join(parts)


def _flow_logs(rng: random.Random) -> Draft:
    retention = rng.choice([90, 180])
    params = {"VpcId": param("VPC to capture.", type_="AWS::EC2::VPC::Id"),
              "RetentionDays": param("Days to keep flow logs.", retention, type_="Number",
                                     AllowedValues=_RETENTION_VALUES)}
    log_arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/vpc/${VpcId}"
    resources: dict[str, Any] = {
        "Key": kms_key("Encrypts VPC flow logs", service_key_grant(
            "AllowFlowLogGroup", Sub("logs.${AWS::Region}.amazonaws.com"),
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": Sub(log_arn)}})),
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": Sub("/vpc/${VpcId}"), "RetentionInDays": Ref("RetentionDays"),
            "KmsKeyId": GetAtt("Key", "Arn")}},
        "DeliveryRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}}]},
            "Policies": [{"PolicyName": "write-flow-logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": GetAtt("LogGroup", "Arn")}]}}]}},
        "FlowLog": {"Type": "AWS::EC2::FlowLog", "Properties": {
            "ResourceId": Ref("VpcId"), "ResourceType": "VPC", "TrafficType": "ALL", "MaxAggregationInterval": 60,
            "LogDestinationType": "cloud-watch-logs", "LogGroupName": Ref("LogGroup"),
            "DeliverLogsPermissionArn": GetAtt("DeliveryRole", "Arn")}},
    }
    doc = template("VPC flow logs delivered to a KMS-encrypted CloudWatch log group.", params, resources,
                   {"LogGroupName": output(Ref("LogGroup"), "Query with CloudWatch Logs Insights.")})
    ask = (f"Our existing VPC has no flow logs. Write CloudFormation that sends all its traffic logs to a new "
           f"CloudWatch log group encrypted with a KMS key and kept {retention} days, with the delivery role it needs.")
    prose = ("The log group is encrypted with a key whose policy admits only this group's encryption context, and "
             f"{retention}-day retention keeps storage bounded. The delivery role can be assumed only by the flow "
             "logs service for this account and may write only to this group.")
    return draft(ask, doc, "yaml", prose)


def _vpcs(rng: random.Random) -> list[Draft]:
    drafts = [draft(_vpc_ask(spec, rng), _vpc_doc(spec), "yaml", _vpc_prose(spec)) for spec in _VPCS]
    return [*drafts, _flow_logs(rng)]


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _functions(rng) + _vpcs(rng))
