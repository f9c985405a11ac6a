"""CloudFormation examples for access control: least-privilege Lambda roles and restrictive security groups."""

from __future__ import annotations

import random
from typing import Any

from .cloudformation import (
    Draft,
    GetAtt,
    Ref,
    Sub,
    draft,
    finish,
    fmt_phrase,
    output,
    param,
    template,
)

# --- IAM roles for Lambda -------------------------------------------------------------------------------------

_LOG_STREAMS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${FunctionName}:*"


def allow(sid: str, actions: list[str], resources: Any, condition: dict | None = None) -> dict:
    stmt = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        stmt["Condition"] = condition
    return stmt


def via_service(service: str) -> dict:
    return {"StringEquals": {"kms:ViaService": Sub(service + ".${AWS::Region}.amazonaws.com")}}


_ROLES: list[dict[str, Any]] = [
    {"function": "orders-api", "fmt": "yaml", "task": "reads and writes one DynamoDB table and queries its indexes",
     "params": {"TableArn": "ARN of the orders table."},
     "statements": lambda: [allow("OrdersTableAccess", ["dynamodb:GetItem", "dynamodb:PutItem",
                                                             "dynamodb:UpdateItem", "dynamodb:Query"],
                                       [Ref("TableArn"), Sub("${TableArn}/index/*")])],
     "why": "DynamoDB access is limited to four item-level actions on the table and its indexes; Scan and "
            "DeleteItem are left out because the API never needs them."},
    {"function": "thumbnailer", "fmt": "yaml",
     "task": "reads originals under uploads/ in one bucket and writes thumbnails under thumbnails/ in another, "
             "both encrypted with the same KMS key",
     "params": {"SourceBucketName": "Bucket with the uploaded originals.",
                "TargetBucketName": "Bucket that receives thumbnails.", "KmsKeyArn": "Key used by both buckets."},
     "statements": lambda: [
         allow("ReadOriginals", ["s3:GetObject"], Sub("arn:${AWS::Partition}:s3:::${SourceBucketName}/uploads/*")),
         allow("WriteThumbnails", ["s3:PutObject"],
                    Sub("arn:${AWS::Partition}:s3:::${TargetBucketName}/thumbnails/*")),
         allow("UseBucketKey", ["kms:Decrypt", "kms:GenerateDataKey"], Ref("KmsKeyArn"), via_service("s3"))],
     "why": "Reads and writes are limited to one prefix each, and the kms:ViaService condition means the key can "
            "only be used through S3, not called directly."},
    {"function": "queue-consumer", "fmt": "json", "task": "consumes one KMS-encrypted SQS queue",
     "params": {"QueueArn": "ARN of the source queue.", "KmsKeyArn": "Key that encrypts the queue."},
     "statements": lambda: [
         allow("ConsumeQueue", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                     "sqs:GetQueueAttributes"], Ref("QueueArn")),
         allow("DecryptMessages", ["kms:Decrypt"], Ref("KmsKeyArn"), via_service("sqs"))],
     "why": "These are exactly the SQS actions an event source mapping needs, and only kms:Decrypt is granted "
            "because a consumer never encrypts."},
    {"function": "db-reporter", "fmt": "yaml", "vpc": True, "boundary": True,
     "task": "runs in private subnets, reads one Secrets Manager secret and must stay inside a permissions boundary",
     "params": {"SecretArn": "Database credentials secret.", "KmsKeyArn": "Key that encrypts the secret."},
     "statements": lambda: [
         allow("ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], Ref("SecretArn")),
         allow("DecryptSecret", ["kms:Decrypt"], Ref("KmsKeyArn"), via_service("secretsmanager"))],
     "why": "The AWS managed VPC access policy covers the network-interface calls, which cannot be scoped to a "
            "resource, and the permissions boundary caps whatever is attached to the role later."},
    {"function": "order-events", "fmt": "yaml", "xray": True,
     "task": "publishes to one custom EventBridge bus and sends X-Ray traces",
     "params": {"EventBusArn": "ARN of the custom event bus."},
     "statements": lambda: [allow("PublishOrderEvents", ["events:PutEvents"], Ref("EventBusArn"),
                                       {"StringEquals": {"events:source": "com.example.orders"}})],
     "why": "PutEvents is allowed only on one bus and only for the com.example.orders source, so the function "
            "cannot impersonate other producers; X-Ray uses its AWS managed write-only policy."},
]

_ROLE_ASKS = [
    "Write a CloudFormation template{fmt} for the IAM execution role of the {function} Lambda function, which "
    "{task}. Keep the inline policy least-privilege and let it write only to its own log group.",
    "Create a least-privilege Lambda execution role in CloudFormation{fmt} for {function}: the function {task}. "
    "Logging permissions must cover only /aws/lambda/{function}.",
    "I need an IAM role for a Lambda function ({function}) that {task}. CloudFormation{fmt}, inline policy with "
    "no wildcards on resources, logs scoped to its log group.",
]


def _role_doc(spec: dict) -> dict:
    params: dict[str, Any] = {"FunctionName": param("Name of the Lambda function that assumes the role.",
                                                    spec["function"], AllowedPattern="^[A-Za-z0-9_-]{1,64}$")}
    params |= {name: param(text) for name, text in spec["params"].items()}
    statements = [allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], Sub(_LOG_STREAMS))]
    statements += spec["statements"]()
    props: dict[str, Any] = {
        "Description": Sub("Execution role for ${FunctionName}"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    }
    managed = []
    if spec.get("vpc"):
        managed.append(Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"))
    if spec.get("xray"):
        managed.append(Sub("arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"))
    if managed:
        props["ManagedPolicyArns"] = managed
    if spec.get("boundary"):
        params["PermissionsBoundaryArn"] = param("Managed policy used as the permissions boundary.")
        props["PermissionsBoundary"] = Ref("PermissionsBoundaryArn")
    props["Policies"] = [{"PolicyName": "least-privilege",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
    resources = {"ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": props}}
    outputs = {"RoleArn": output(GetAtt("ExecutionRole", "Arn"), "Pass this to the function's Role property.",
                                 export="ExecutionRoleArn")}
    return template(f"Least-privilege execution role for the {spec['function']} Lambda function.",
                    params, resources, outputs)


def _role_prose(spec: dict) -> str:
    return (f"{spec['why']} Logging is limited to streams in /aws/lambda/{spec['function']}; the role cannot create "
            "log groups, so create that group (with retention) in the function's stack. Only the Lambda service can "
            "assume the role, and no RoleName is set, so the stack needs only CAPABILITY_IAM.")


def _roles(rng: random.Random) -> list[Draft]:
    asks = _ROLE_ASKS * 2
    rng.shuffle(asks)
    drafts = [draft(ask.format(fmt=fmt_phrase(spec["fmt"], rng), function=spec["function"], task=spec["task"]),
                    _role_doc(spec), spec["fmt"], _role_prose(spec)) for spec, ask in zip(_ROLES, asks, strict=False)]
    fixed = {"function": "invoice-loader", "params": {"InvoiceBucketName": "Bucket with the invoice files.",
                                                      "InvoiceTableArn": "Table the invoices are loaded into."},
             "statements": lambda: [
                 allow("ReadInvoices", ["s3:GetObject"],
                            Sub("arn:${AWS::Partition}:s3:::${InvoiceBucketName}/invoices/*")),
                 allow("LoadInvoices", ["dynamodb:PutItem", "dynamodb:BatchWriteItem"], Ref("InvoiceTableArn"))],
             "why": "The function only reads invoices/ objects and writes invoice items, so those are the only "
                    "grants besides logging; AdministratorAccess and the Action * statement are gone."}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"InvoiceLoaderRole": {
        "Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "Policies": [{"PolicyName": "everything", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}}}}
    ask = ("This Lambda role has admin rights. The invoice-loader function only reads objects under invoices/ in "
           "one bucket and writes items to one DynamoDB table. Rewrite the role with least privilege.")
    drafts.append(draft(ask, _role_doc(fixed), "yaml", _role_prose(fixed), given=given))
    return drafts


# --- Security groups ------------------------------------------------------------------------------------------

_CIDR_PATTERN = "^(\\d{1,3}\\.){3}\\d{1,3}/(\\d|[12]\\d|3[0-2])$"
# Replaces the implicit allow-all egress rule with one that matches nothing, so the group sends no traffic.
_NO_EGRESS = [{"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No outbound traffic"}]


def rule(port: int, description: str, **source: Any) -> dict:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source, "Description": description}


def _group(description: str, ingress: list[dict], egress: list[dict]) -> dict:
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": description, "VpcId": Ref("VpcId"), "SecurityGroupIngress": ingress,
        "SecurityGroupEgress": egress,
        "Tags": [{"Key": "Name", "Value": Sub("${AWS::StackName}-" + description.split()[0].lower())}]}}


def _sg_params(**extra: str) -> dict:
    params = {"VpcId": param("VPC for the security group.", type_="AWS::EC2::VPC::Id")}
    for name, text in extra.items():
        params[name] = param(text, type_="AWS::EC2::SecurityGroup::Id")
    return params


def _sg_outputs() -> dict:
    return {"SecurityGroupId": output(GetAtt("SecurityGroup", "GroupId"), "Security group ID.",
                                      export="SecurityGroupId")}


def _sg_alb(rng: random.Random) -> Draft:
    port = rng.choice([8080, 8443])
    params = _sg_params(AppSecurityGroupId="Security group of the application instances.")
    resources = {"SecurityGroup": _group("Load balancer for the public web tier", [
        rule(443, "HTTPS from the internet (IPv4)", CidrIp="0.0.0.0/0"),
        rule(443, "HTTPS from the internet (IPv6)", CidrIpv6="::/0")],
        [rule(port, "Forward to the application tier", DestinationSecurityGroupId=Ref("AppSecurityGroupId"))])}
    doc = template("Security group for an internet-facing Application Load Balancer.", params, resources,
                   _sg_outputs())
    ask = (f"Write a CloudFormation security group for a public ALB: HTTPS (443) from anywhere over IPv4 and IPv6, "
           f"nothing else inbound, and outbound only to the app tier's security group on port {port}.")
    prose = ("Only 443 is open to the internet; plain HTTP is not accepted at all, so there is no unencrypted path "
             "to redirect. Replacing the default allow-all egress with a single rule to the application group means "
             f"the load balancer can reach nothing but the targets on port {port}.")
    return draft(ask, doc, "yaml", prose)


def _sg_app(rng: random.Random) -> Draft:
    params = _sg_params(AlbSecurityGroupId="Security group of the load balancer.",
                        DbSecurityGroupId="Security group of the PostgreSQL database.")
    resources = {
        "SecurityGroup": _group("Application instances behind the load balancer",
                                [rule(8080, "HTTP from the load balancer",
                                      SourceSecurityGroupId=Ref("AlbSecurityGroupId"))],
                                [rule(443, "HTTPS to AWS APIs and package mirrors", CidrIp="0.0.0.0/0"),
                                 rule(5432, "PostgreSQL", DestinationSecurityGroupId=Ref("DbSecurityGroupId"))]),
        # A separate resource avoids a circular reference when the group refers to itself.
        "ClusterIngress": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": GetAtt("SecurityGroup", "GroupId"), "IpProtocol": "tcp", "FromPort": 5701, "ToPort": 5701,
            "SourceSecurityGroupId": GetAtt("SecurityGroup", "GroupId"),
            "Description": "Hazelcast cluster traffic between app instances"}},
    }
    doc = template("Security group for the application tier.", params, resources, _sg_outputs())
    ask = ("CloudFormation security group for app servers: port 8080 only from the ALB's security group, members "
           "talk to each other on 5701 for Hazelcast, and outbound is limited to HTTPS and PostgreSQL on the DB group.")
    prose = ("Every rule references a security group instead of a CIDR, so scaling or replacing instances needs no "
             "rule changes. The self-referencing cluster rule is a separate SecurityGroupIngress resource because a "
             "group cannot refer to its own ID inside its definition, and egress is limited to HTTPS and the "
             "database.")
    return draft(ask, doc, "yaml", prose)


def _sg_database(rng: random.Random) -> Draft:
    params = _sg_params(AppSecurityGroupId="Security group of the application tier.")
    params["ReportingCidr"] = param("Network of the BI tool that runs read-only reports.", "10.50.0.0/24",
                                    AllowedPattern=_CIDR_PATTERN)
    resources = {"SecurityGroup": _group("Database access for the application and reporting", [
        rule(5432, "PostgreSQL from the application tier", SourceSecurityGroupId=Ref("AppSecurityGroupId")),
        rule(5432, "PostgreSQL from the reporting network", CidrIp=Ref("ReportingCidr"))], _NO_EGRESS)}
    doc = template("Security group for a PostgreSQL database.", params, resources, _sg_outputs())
    ask = (f"Create a security group in CloudFormation{fmt_phrase('yaml', rng)} for a PostgreSQL database that "
           "accepts 5432 from the app tier's security group and from a reporting subnet (default 10.50.0.0/24), and "
           "that cannot initiate any outbound connection.")
    prose = ("The database only needs to answer connections, so the default allow-all egress is replaced by a rule "
             "to 127.0.0.1/32, which matches nothing; responses still flow because security groups are stateful. "
             "The reporting range is a validated parameter rather than a hard-coded CIDR.")
    return draft(ask, doc, "yaml", prose)


def _sg_admin(rng: random.Random) -> Draft:
    cidr = rng.choice(["198.51.100.0/24", "203.0.113.0/24"])
    params = _sg_params()
    params["AdminCidr"] = param("Office or VPN range allowed to use SSH.", cidr, AllowedPattern=_CIDR_PATTERN)
    resources = {"SecurityGroup": _group("Bastion reachable over SSH from the office VPN", [
        rule(22, "SSH from the office VPN", CidrIp=Ref("AdminCidr"))],
        [rule(443, "HTTPS for updates and the SSM agent", CidrIp="0.0.0.0/0")])}
    doc = template("Security group for an SSH bastion limited to the office range.", params, resources, _sg_outputs())
    ask = (f"We still need SSH to one bastion host. Write a CloudFormation security group that allows port 22 only "
           f"from our VPN range ({cidr}, as a parameter) and only HTTPS outbound.")
    prose = ("SSH is reachable only from the VPN range, never 0.0.0.0/0, and the parameter's pattern rejects "
             "anything that is not a CIDR. Consider Session Manager instead: with the SSM agent and HTTPS egress "
             "already in place, you could drop the SSH rule entirely.")
    return draft(ask, doc, "yaml", prose)


def _sg_fix(rng: random.Random) -> Draft:
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"DbSecurityGroup": {
        "Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "db", "VpcId": "vpc-0abc1234",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "0.0.0.0/0"}
                                     for port in (22, 3389, 5432)]}}}}
    params = _sg_params(AppSecurityGroupId="Security group of the services that use the database.")
    resources = {"SecurityGroup": _group("Database reachable only from the application tier", [
        rule(5432, "PostgreSQL from the application tier", SourceSecurityGroupId=Ref("AppSecurityGroupId"))],
        _NO_EGRESS)}
    doc = template("Security group for the PostgreSQL database, reachable only from the application tier.",
                   params, resources, _sg_outputs())
    ask = rng.choice(["Our database security group is wide open. Lock it down.",
                      "Security review flagged this group. Fix it so only our app can reach the database."])
    prose = ("SSH, RDP and PostgreSQL were open to the whole internet. Only PostgreSQL remains, and only from the "
             "application's security group; use Session Manager or RDS features instead of logging in to the host. "
             "The VPC is now a parameter, every rule has a description, and outbound traffic is blocked.")
    return draft(ask, doc, "yaml", prose, given=given)


def examples(rng: random.Random) -> list[dict]:
    groups = [family(rng) for family in (_sg_alb, _sg_app, _sg_database, _sg_admin, _sg_fix)]
    return finish(rng, _roles(rng) + groups)
