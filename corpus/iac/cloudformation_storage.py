"""CloudFormation examples for data stores: S3 buckets, DynamoDB tables and ECR repositories."""

from __future__ import annotations

import random
from typing import Any

from .cloudformation import (
    Draft,
    GetAtt,
    Ref,
    Sub,
    days,
    deny_insecure_transport,
    draft,
    finish,
    fmt_phrase,
    kms_key,
    output,
    param,
    template,
)


def join_words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def encryption_key(spec: dict, params: dict, resources: dict, what: str) -> Any:
    """Return the key ARN to use, adding either a new key or a parameter for an existing one."""
    if spec["kms"] == "param":
        params["KmsKeyArn"] = param(f"ARN of the existing KMS key that encrypts the {what}.",
                                    AllowedPattern="^arn:aws[a-z-]*:kms:.+$")
        return Ref("KmsKeyArn")
    resources["Key"] = kms_key(f"Encrypts the {what}")
    return GetAtt("Key", "Arn")


# --- S3 -------------------------------------------------------------------------------------------------------

_S3 = [
    {"purpose": "the raw zone of an analytics data lake", "name": "analytics-raw", "kms": "new", "fmt": "yaml",
     "transitions": [(30, "STANDARD_IA"), (90, "GLACIER_IR")], "noncurrent": 60, "abort": 7},
    {"purpose": "CI build artifacts", "name": "build-artifacts", "kms": "s3", "fmt": "json",
     "expire": 30, "noncurrent": 7, "abort": 2},
    {"purpose": "nightly database backups that must not be deleted early", "name": "db-backups", "kms": "param",
     "fmt": "yaml", "lock": ("GOVERNANCE", 35), "noncurrent": 35},
    {"purpose": "user media uploads that downstream jobs react to", "name": "media-uploads", "kms": "new",
     "fmt": "yaml", "events": True, "abort": 1, "tls": True, "noncurrent": 30},
    {"purpose": "regulatory audit exports kept for one year in WORM mode", "name": "audit-exports", "kms": "new",
     "fmt": "yaml", "lock": ("COMPLIANCE", 365), "tls": True},
    {"purpose": "machine-learning training datasets", "name": "ml-datasets", "kms": "param", "fmt": "yaml",
     "transitions": [(180, "GLACIER_IR")], "tls": True, "noncurrent": 14},
]

_S3_ASKS = [
    "Write a CloudFormation template{fmt} for a private S3 bucket for {purpose}. It needs {reqs}.",
    "Create an S3 bucket with CloudFormation{fmt} to hold {purpose}. Requirements: {reqs}.",
    "I need CloudFormation{fmt} for {purpose} in S3: {reqs}. Take the bucket name as a parameter.",
]


def _s3_requirements(spec: dict) -> list[str]:
    reqs = {"new": ["SSE-KMS with a new rotating customer-managed key"],
            "param": ["SSE-KMS with an existing key passed in as a parameter"],
            "s3": ["SSE-S3 (AES-256) default encryption"]}[spec["kms"]]
    reqs += ["versioning", "all public access blocked", "server access logs to an existing log bucket"]
    if spec.get("lock"):
        mode, retain = spec["lock"]
        reqs.append(f"Object Lock in {mode} mode with {retain}-day default retention")
    for after, storage in spec.get("transitions", []):
        reqs.append(f"transition to {storage} after {after} days")
    if spec.get("expire"):
        reqs.append(f"objects expire after {spec['expire']} days")
    if spec.get("noncurrent"):
        reqs.append(f"old versions deleted after {spec['noncurrent']} days")
    if spec.get("abort"):
        reqs.append(f"incomplete multipart uploads aborted after {days(spec['abort'])}")
    if spec.get("events"):
        reqs.append("object events sent to EventBridge")
    tls = " and TLS older than 1.2" if spec.get("tls") else ""
    reqs.append(f"a bucket policy that rejects non-TLS requests{tls}")
    return reqs


def _s3_doc(spec: dict) -> dict:
    params: dict[str, Any] = {
        "BucketName": param("Globally unique bucket name.", AllowedPattern="^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
        "AccessLogBucketName": param("Existing bucket that receives S3 server access logs."),
    }
    resources: dict[str, Any] = {}
    if spec["kms"] == "s3":
        default = {"SSEAlgorithm": "AES256"}
    else:
        default = {"SSEAlgorithm": "aws:kms",
                   "KMSMasterKeyID": encryption_key(spec, params, resources, f"{spec['name']} bucket")}
    rule: dict[str, Any] = {"Id": "housekeeping", "Status": "Enabled"}
    if spec.get("transitions"):
        rule["Transitions"] = [{"TransitionInDays": after, "StorageClass": cls} for after, cls in spec["transitions"]]
    if spec.get("expire"):
        rule["ExpirationInDays"] = spec["expire"]
    if spec.get("noncurrent"):
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": spec["noncurrent"]}
    if spec.get("abort"):
        rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": spec["abort"]}
    props: dict[str, Any] = {
        "BucketName": Ref("BucketName"),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": default, "BucketKeyEnabled": spec["kms"] != "s3"}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LoggingConfiguration": {"DestinationBucketName": Ref("AccessLogBucketName"),
                                 "LogFilePrefix": Sub("${BucketName}/")},
    }
    if len(rule) > 2:
        props["LifecycleConfiguration"] = {"Rules": [rule]}
    if spec.get("lock"):
        mode, retain = spec["lock"]
        props["ObjectLockEnabled"] = True
        props["ObjectLockConfiguration"] = {"ObjectLockEnabled": "Enabled",
                                            "Rule": {"DefaultRetention": {"Mode": mode, "Days": retain}}}
    if spec.get("events"):
        props["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    props["Tags"] = [{"Key": "data-classification", "Value": spec.get("classification", "internal")}]
    resources["Bucket"] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                           "Properties": props}
    statements = [deny_insecure_transport("s3:*", [GetAtt("Bucket", "Arn"), Sub("${Bucket.Arn}/*")])]
    if spec.get("tls"):
        statements.append({"Sid": "DenyOutdatedTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [GetAtt("Bucket", "Arn"), Sub("${Bucket.Arn}/*")],
                           "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}})
    resources["BucketPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": Ref("Bucket"), "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
    outputs = {"BucketName": output(Ref("Bucket"), "Bucket name."),
               "BucketArn": output(GetAtt("Bucket", "Arn"), "Bucket ARN.", export="BucketArn")}
    return template(f"Private, encrypted S3 bucket for {spec['purpose']}.", params, resources, outputs)


def _s3_prose(spec: dict) -> str:
    enc = {"new": "a dedicated rotating KMS key, with S3 Bucket Keys to cut KMS request costs",
           "param": "the KMS key you pass in, with S3 Bucket Keys to cut KMS request costs",
           "s3": "SSE-S3, which is enough for build outputs and avoids KMS request charges"}[spec["kms"]]
    parts = [f"Objects are encrypted by default with {enc}; Block Public Access and BucketOwnerEnforced ownership "
             "mean access is controlled only by IAM and the bucket policy."]
    if spec.get("lock"):
        mode, retain = spec["lock"]
        detail = ("not even the root user can shorten it" if mode == "COMPLIANCE"
                  else "only principals with s3:BypassGovernanceRetention can override it")
        parts.append(f"Object Lock can only be turned on when the bucket is created; {mode} mode keeps every "
                     f"version for {retain} days and {detail}.")
    elif spec.get("events"):
        parts.append("EventBridge notifications let several consumers subscribe to uploads with rules instead of "
                     "competing for the bucket's single notification configuration.")
    else:
        parts.append("The lifecycle rule keeps storage costs in check by moving or expiring objects and deleting "
                     "noncurrent versions that versioning would otherwise keep forever.")
    tls = " and anything below TLS 1.2" if spec.get("tls") else ""
    parts.append(f"The bucket policy denies plain-HTTP requests{tls}, access logs go to your log bucket, and "
                 "DeletionPolicy Retain keeps the data if the stack is deleted.")
    return " ".join(parts)


def _s3(rng: random.Random) -> list[Draft]:
    asks = _S3_ASKS * 2
    rng.shuffle(asks)
    drafts = []
    for spec, ask in zip(_S3, asks, strict=False):
        instruction = ask.format(fmt=fmt_phrase(spec["fmt"], rng), purpose=spec["purpose"],
                                 reqs=join_words(_s3_requirements(spec)))
        drafts.append(draft(instruction, _s3_doc(spec), spec["fmt"], _s3_prose(spec)))

    hardened = {"purpose": "monthly finance reports", "name": "finance-reports", "kms": "new", "fmt": "yaml",
                "noncurrent": 90, "classification": "confidential"}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "ReportsBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-finance-reports"}}}}
    ask = rng.choice([
        "Harden this bucket: encrypt it with a customer-managed KMS key, enable versioning (expire old versions "
        "after 90 days), block public access, log access to our log bucket and refuse requests without TLS.",
        "Make this S3 bucket production-ready: CMK encryption, versioning with 90-day cleanup of old versions, "
        "no public access, access logging and a TLS-only bucket policy. Parameterize the names.",
    ])
    prose = ("The bare bucket relied on defaults and had a hard-coded name; the name and log bucket are now "
             "parameters and the bucket is tagged confidential. " + _s3_prose(hardened))
    drafts.append(draft(ask, _s3_doc(hardened), "yaml", prose, given=given))

    listed = {"purpose": "partner file drops", "name": "partner-drop", "kms": "new", "fmt": "yaml",
              "noncurrent": 30, "abort": 3, "tls": True, "classification": "confidential"}
    reqs = "\n".join(f"- {item[0].upper()}{item[1:]}" for item in _s3_requirements(listed))
    ask = "Write a CloudFormation template for the partner file-drop bucket described by these requirements."
    drafts.append(draft(ask, _s3_doc(listed), "yaml", _s3_prose(listed), given=reqs))
    return drafts


# --- DynamoDB -------------------------------------------------------------------------------------------------

_DDB = [
    {"name": "orders", "pk": "customerId", "sk": "orderId", "gsi": ("by-status", "status", "createdAt"),
     "kms": "new", "fmt": "yaml", "what": "customer orders, queried by customer and by order status"},
    {"name": "sessions", "pk": "sessionId", "ttl": "expiresAt", "kms": "new", "fmt": "json",
     "what": "web sessions that expire on their own"},
    {"name": "inventory", "pk": "sku", "stream": "NEW_AND_OLD_IMAGES", "kms": "param", "fmt": "yaml",
     "capacity": (10, 5), "what": "stock levels whose changes feed a replication Lambda through a stream"},
    {"name": "idempotency-keys", "pk": "id", "ttl": "ttl", "kms": "new", "fmt": "json", "pitr_days": 7,
     "what": "API idempotency keys with a short recovery window"},
    {"name": "audit-events", "pk": "tenantId", "sk": "eventTime", "gsi": ("by-actor", "actorId", "eventTime"),
     "kms": "param", "fmt": "yaml", "infrequent": True,
     "what": "tenant audit events that are written often but read rarely"},
]

_DDB_ASKS = [
    "Write a CloudFormation template{fmt} for a DynamoDB table that stores {what}. {reqs}.",
    "Create a DynamoDB table in CloudFormation{fmt} for {what}. Requirements: {reqs}.",
    "I need CloudFormation{fmt} defining a DynamoDB table for {what}: {reqs}.",
]


def _ddb_requirements(spec: dict) -> list[str]:
    keys = f"partition key {spec['pk']}" + (f", sort key {spec['sk']}" if spec.get("sk") else "")
    reqs = [keys]
    if spec.get("capacity"):
        reqs.append(f"provisioned capacity of {spec['capacity'][0]} RCU and {spec['capacity'][1]} WCU")
    else:
        reqs.append("on-demand billing")
    if spec.get("gsi"):
        reqs.append(f"a GSI {spec['gsi'][0]} on {spec['gsi'][1]}/{spec['gsi'][2]}")
    if spec.get("ttl"):
        reqs.append(f"TTL on {spec['ttl']}")
    if spec.get("stream"):
        reqs.append(f"a {spec['stream']} stream")
    if spec.get("infrequent"):
        reqs.append("the Standard-IA table class and contributor insights")
    reqs.append(f"point-in-time recovery{' kept ' + str(spec['pitr_days']) + ' days' if spec.get('pitr_days') else ''}")
    reqs.append("SSE with " + ("a new customer-managed KMS key" if spec["kms"] == "new" else "an existing KMS key"))
    reqs.append("deletion protection")
    return reqs


def _ddb_doc(spec: dict) -> dict:
    params: dict[str, Any] = {"TableName": param("Name of the table.", spec["name"],
                                                 AllowedPattern="^[a-zA-Z0-9_.-]{3,255}$")}
    resources: dict[str, Any] = {}
    key_arn = encryption_key(spec, params, resources, f"{spec['name']} table")
    attrs = {spec["pk"]: "S"}
    schema = [{"AttributeName": spec["pk"], "KeyType": "HASH"}]
    if spec.get("sk"):
        attrs[spec["sk"]] = "S"
        schema.append({"AttributeName": spec["sk"], "KeyType": "RANGE"})
    if spec.get("gsi"):
        attrs[spec["gsi"][1]] = "S"
        attrs[spec["gsi"][2]] = "S"
    props: dict[str, Any] = {
        "TableName": Ref("TableName"),
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind} for name, kind in attrs.items()],
        "KeySchema": schema,
    }
    if spec.get("capacity"):
        props["BillingMode"] = "PROVISIONED"
        props["ProvisionedThroughput"] = {"ReadCapacityUnits": spec["capacity"][0],
                                          "WriteCapacityUnits": spec["capacity"][1]}
    else:
        props["BillingMode"] = "PAY_PER_REQUEST"
    if spec.get("gsi"):
        index, gpk, gsk = spec["gsi"]
        props["GlobalSecondaryIndexes"] = [{
            "IndexName": index,
            "KeySchema": [{"AttributeName": gpk, "KeyType": "HASH"}, {"AttributeName": gsk, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}]
    if spec.get("ttl"):
        props["TimeToLiveSpecification"] = {"AttributeName": spec["ttl"], "Enabled": True}
    if spec.get("stream"):
        props["StreamSpecification"] = {"StreamViewType": spec["stream"]}
    if spec.get("infrequent"):
        props["TableClass"] = "STANDARD_INFREQUENT_ACCESS"
        props["ContributorInsightsSpecification"] = {"Enabled": True}
    pitr: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
    if spec.get("pitr_days"):
        pitr["RecoveryPeriodInDays"] = spec["pitr_days"]
    props["PointInTimeRecoverySpecification"] = pitr
    props["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
    props["DeletionProtectionEnabled"] = True
    resources["Table"] = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                          "Properties": props}
    outputs = {"TableName": output(Ref("Table"), "Table name."),
               "TableArn": output(GetAtt("Table", "Arn"), "Table ARN.", export="TableArn")}
    if spec.get("stream"):
        outputs["StreamArn"] = output(GetAtt("Table", "StreamArn"), "Stream ARN for event source mappings.")
    return template(f"DynamoDB table for {spec['what']}.", params, resources, outputs)


def _ddb_prose(spec: dict) -> str:
    parts = ["Point-in-time recovery allows restoring the table to any second in the recovery window, and "
             "deletion protection plus DeletionPolicy Retain guard against an accidental delete."]
    parts.append("Server-side encryption uses " + ("a dedicated customer-managed key" if spec["kms"] == "new"
                 else "the key you pass in") + ", so key use is visible in CloudTrail and can be revoked.")
    if spec.get("ttl"):
        parts.append(f"Items whose {spec['ttl']} epoch-seconds value has passed are deleted by TTL at no cost.")
    elif spec.get("stream"):
        parts.append("The stream carries old and new images, so the consumer can compute deltas; provisioned "
                     "capacity suits its steady, predictable load.")
    elif spec.get("infrequent"):
        parts.append("Standard-IA lowers storage cost for rarely read data, and contributor insights show "
                     "which tenants drive the traffic.")
    elif spec.get("gsi"):
        parts.append(f"On-demand billing fits spiky traffic, and the {spec['gsi'][0]} index projects all attributes "
                     "so those queries need no extra reads.")
    else:
        parts.append("On-demand billing fits spiky traffic without any capacity planning.")
    return " ".join(parts)


def _ddb(rng: random.Random) -> list[Draft]:
    asks = _DDB_ASKS * 2
    rng.shuffle(asks)
    drafts = []
    for spec, ask in zip(_DDB, asks, strict=False):
        reqs = join_words(_ddb_requirements(spec))
        instruction = ask.format(fmt=fmt_phrase(spec["fmt"], rng), what=spec["what"], reqs=reqs[0].upper() + reqs[1:])
        drafts.append(draft(instruction, _ddb_doc(spec), spec["fmt"], _ddb_prose(spec)))
    fixed = {"name": "devices", "pk": "deviceId", "sk": "readingTime", "kms": "new", "fmt": "yaml",
             "what": "IoT device readings"}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"DevicesTable": {
        "Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "devices",
            "AttributeDefinitions": [{"AttributeName": "deviceId", "AttributeType": "S"},
                                     {"AttributeName": "readingTime", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "deviceId", "KeyType": "HASH"},
                          {"AttributeName": "readingTime", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST"}}}}
    ask = ("Our devices table has no backups and uses the AWS owned key. Add point-in-time recovery, encryption "
           "with our own KMS key and deletion protection, and parameterize the table name.")
    prose = ("The keys and on-demand billing are unchanged, so no data migration is needed. " + _ddb_prose(fixed))
    drafts.append(draft(ask, _ddb_doc(fixed), "yaml", prose, given=given))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _s3(rng) + _ddb(rng))
