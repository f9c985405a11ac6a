"""Pulumi (Python) examples: shared program helpers plus the S3 bucket family.

Programs are assembled from dedented snippets with ``string.Template`` placeholders (``$name``), which leaves the
braces of Python dicts and f-strings in the generated code alone. The other ``pulumi_*`` modules import the
helpers from here; each module returns only its own rows.
"""

from __future__ import annotations

import json
import random
import string
import textwrap
from dataclasses import dataclass

TERSE_SHARE = 0.3
AWS_HEADER = "import pulumi\nimport pulumi_aws as aws"


@dataclass
class Program:
    instruction: str
    code: str
    prose: str
    provider: str = "aws"
    input: str = ""


def fill(text: str, **values: object) -> str:
    return string.Template(textwrap.dedent(text).strip("\n")).substitute(values)


def program(doc: str, header: str, *blocks: str) -> str:
    """Join a module docstring, imports and top-level blocks the way a formatter would lay them out."""
    parts = [f'"""{doc}"""', header, *(block for block in blocks if block)]
    return "\n\n".join(parts) + "\n"


def finish(rng: random.Random, programs: list[Program]) -> list[dict]:
    """Give exactly TERSE_SHARE of the rows the code-only style, in an rng-chosen order."""
    terse = round(len(programs) * TERSE_SHARE)
    styles = ["TERSE"] * terse + ["VERBOSE"] * (len(programs) - terse)
    rng.shuffle(styles)
    rows = []
    for item, style in zip(programs, styles, strict=True):
        block = f"```python\n{item.code}```"
        rows.append({
            "instruction": item.instruction,
            "input": item.input,
            "output": block if style == "TERSE" else f"{item.prose}\n\n{block}",
            "style": style,
            "language": "pulumi",
            "provider": item.provider,
        })
    return rows


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {_flat(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(item) for item in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def py_literal(value: object, indent: int = 0) -> str:
    """Format a dict/list of JSON-like data as Python source, black-style: one line if it fits, else exploded."""
    flat = _flat(value)
    if not isinstance(value, dict | list) or indent + len(flat) <= 100:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, list):
        items = "".join(f"{pad}{py_literal(item, indent + 4)},\n" for item in value)
        return f"[\n{items}{' ' * indent}]"
    items = "".join(f"{pad}{json.dumps(key)}: {py_literal(item, indent + 4)},\n" for key, item in value.items())
    return f"{{\n{items}{' ' * indent}}}"


def kms_key_block(var: str, name: str, description: str, window: int = 30) -> str:
    return fill('''
        $var = aws.kms.Key(
            "$name",
            description=$description,
            enable_key_rotation=True,
            deletion_window_in_days=$window,
        )''', var=var, name=name, description=description, window=window)


def tls_only_policy(action: str, resources: str, extra: str = "") -> str:
    """A policy document (as pulumi.Output.json_dumps) whose first statement denies non-TLS requests."""
    return fill('''
        pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "$action",
                        "Resource": $resources,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },$extra
                ],
            }
        )''', action=action, resources=resources, extra=extra).replace("\n", "\n" + " " * 4)


# --- S3 -------------------------------------------------------------------------------------------------------

_S3 = [
    {"purpose": "the raw zone of an analytics data lake", "team": "data-platform", "kms": "new", "noncurrent": 60,
     "transitions": [(30, "STANDARD_IA"), (90, "GLACIER_IR")], "abort": 7},
    {"purpose": "CI build artifacts", "team": "developer-experience", "kms": "s3", "expire": 30, "noncurrent": 7},
    {"purpose": "database backups that must not be deleted early", "team": "dba", "kms": "config",
     "lock": ("GOVERNANCE", 35), "noncurrent": 35},
    {"purpose": "user media uploads that trigger processing jobs", "team": "media", "kms": "new", "events": True,
     "tls12": True, "abort": 1},
    {"purpose": "a self-managed Pulumi state backend", "team": "platform", "kms": "new", "noncurrent": 90,
     "tls12": True},
]

_S3_ASKS = [
    "Write a Pulumi Python program for a private S3 bucket holding {purpose}: {reqs}. Export the bucket name and "
    "ARN.",
    "Using Pulumi with pulumi_aws, create an S3 bucket for {purpose}. Requirements: {reqs}.",
    "I need a Pulumi program (Python) that provisions S3 storage for {purpose}. It needs {reqs}.",
]


def _s3_reqs(spec: dict) -> list[str]:
    reqs = [{"new": "SSE-KMS with a new rotating key", "config": "SSE-KMS with an existing key ARN from config",
             "s3": "SSE-S3 encryption"}[spec["kms"]], "versioning", "Block Public Access on every setting",
            "access logs to the log bucket named in config"]
    if spec.get("lock"):
        reqs.append(f"Object Lock ({spec['lock'][0]}, {spec['lock'][1]} days)")
    reqs += [f"move to {cls} after {days} days" for days, cls in spec.get("transitions", [])]
    if spec.get("expire"):
        reqs.append(f"delete objects after {spec['expire']} days")
    if spec.get("noncurrent"):
        reqs.append(f"expire old versions after {spec['noncurrent']} days")
    if spec.get("abort"):
        reqs.append(f"abort incomplete uploads after {spec['abort']} day{'s' if spec['abort'] > 1 else ''}")
    if spec.get("events"):
        reqs.append("EventBridge notifications")
    reqs.append("a TLS-only bucket policy" + (" that also rejects TLS below 1.2" if spec.get("tls12") else ""))
    return reqs


def _lifecycle_block(spec: dict) -> str:
    prefix = "aws.s3.BucketLifecycleConfigurationRule"
    args = ['id="housekeeping"', 'status="Enabled"', f'filter={prefix}FilterArgs(prefix="")']
    if spec.get("transitions"):
        items = "".join(f'    {prefix}TransitionArgs(days={days}, storage_class="{cls}"),\n'
                        for days, cls in spec["transitions"])
        args.append(f"transitions=[\n{items}]")
    if spec.get("expire"):
        args.append(f"expiration={prefix}ExpirationArgs(days={spec['expire']})")
    if spec.get("noncurrent"):
        args.append(f"noncurrent_version_expiration={prefix}NoncurrentVersionExpirationArgs(\n"
                    f"    noncurrent_days={spec['noncurrent']},\n)")
    if spec.get("abort"):
        args.append(f"abort_incomplete_multipart_upload={prefix}AbortIncompleteMultipartUploadArgs(\n"
                    f"    days_after_initiation={spec['abort']},\n)")
    if len(args) == 3:
        return ""
    body = textwrap.indent(",\n".join(args) + ",", " " * 12)
    return ('aws.s3.BucketLifecycleConfiguration(\n    "lifecycle",\n    bucket=bucket.id,\n    rules=[\n'
            f"        {prefix}Args(\n{body}\n        )\n    ],\n"
            "    opts=pulumi.ResourceOptions(depends_on=[versioning]),\n)")


def _s3_code(spec: dict) -> str:
    config = ['config = pulumi.Config()', 'bucket_name = config.require("bucketName")',
              'access_log_bucket = config.require("accessLogBucket")']
    if spec["kms"] == "config":
        config.append('kms_key_arn = config.require("kmsKeyArn")')
    config.append(f'tags = {{"team": "{spec["team"]}", "managed-by": "pulumi"}}')
    blocks = ["\n".join(config)]
    if spec["kms"] == "new":
        blocks.append(kms_key_block("key", "bucket-key", 'f"Encrypts s3://{bucket_name}"'))
    lock = ", object_lock_enabled=True" if spec.get("lock") else ""
    blocks.append(f'bucket = aws.s3.Bucket("bucket", bucket=bucket_name{lock}, tags=tags)')
    blocks.append(fill('''
        aws.s3.BucketOwnershipControls(
            "ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        )

        public_access = aws.s3.BucketPublicAccessBlock(
            "public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )

        versioning = aws.s3.BucketVersioning(
            "versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        )'''))
    if spec["kms"] == "s3":
        default = '{"sse_algorithm": "AES256"}'
    else:
        arn = "key.arn" if spec["kms"] == "new" else "kms_key_arn"
        default = f'{{"sse_algorithm": "aws:kms", "kms_master_key_id": {arn}}}'
    bucket_key = "" if spec["kms"] == "s3" else '\n            "bucket_key_enabled": True,'
    blocks.append(fill('''
        aws.s3.BucketServerSideEncryptionConfiguration(
            "encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": $default,$bucket_key
                }
            ],
        )''', default=default, bucket_key=bucket_key))
    if spec.get("lock"):
        mode, days = spec["lock"]
        blocks.append(fill('''
            aws.s3.BucketObjectLockConfiguration(
                "object-lock",
                bucket=bucket.id,
                rule={"default_retention": {"mode": "$mode", "days": $days}},
                opts=pulumi.ResourceOptions(depends_on=[versioning]),
            )''', mode=mode, days=days))
    blocks.append(_lifecycle_block(spec))
    blocks.append(fill('''
        aws.s3.BucketLogging(
            "access-logs",
            bucket=bucket.id,
            target_bucket=access_log_bucket,
            target_prefix=f"{bucket_name}/",
        )'''))
    if spec.get("events"):
        blocks.append('aws.s3.BucketNotification("eventbridge", bucket=bucket.id, eventbridge=True)')
    extra = ""
    if spec.get("tls12"):
        extra = '''
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
            },'''
    policy = tls_only_policy("s3:*", '[bucket.arn, pulumi.Output.concat(bucket.arn, "/*")]',
                             extra)
    blocks.append(f'aws.s3.BucketPolicy(\n    "bucket-policy",\n    bucket=bucket.id,\n    policy={policy},\n'
                  '    opts=pulumi.ResourceOptions(depends_on=[public_access]),\n)')
    blocks.append('pulumi.export("bucket_name", bucket.bucket)\npulumi.export("bucket_arn", bucket.arn)')
    return program(f"Private, encrypted S3 bucket for {spec['purpose']}.", AWS_HEADER, *blocks)


def _s3_prose(spec: dict) -> str:
    enc = {"new": "a dedicated KMS key with rotation, plus S3 Bucket Keys to cut KMS request costs",
           "config": "the KMS key from stack config, plus S3 Bucket Keys to cut KMS request costs",
           "s3": "SSE-S3, which is enough here and avoids KMS charges"}[spec["kms"]]
    parts = [f"Default encryption uses {enc}, and Block Public Access with BucketOwnerEnforced ownership leaves "
             "IAM and the bucket policy as the only ways in."]
    if spec.get("lock"):
        parts.append(f"Object Lock must be enabled when the bucket is created; {spec['lock'][0]} mode then keeps "
                     f"each version for {spec['lock'][1]} days unless someone holds s3:BypassGovernanceRetention.")
    elif spec.get("events"):
        parts.append("EventBridge notifications let any number of consumers react to uploads through rules.")
    elif "state" in spec["purpose"]:
        parts.append("Versioning is what makes a state bucket safe: a bad `pulumi up` or a corrupted checkpoint "
                     "can be rolled back to an earlier object version.")
    else:
        parts.append("The lifecycle rule controls cost by ageing objects out and removing old versions.")
    tls = " and anything older than TLS 1.2" if spec.get("tls12") else ""
    parts.append(f"The bucket policy denies plain HTTP{tls}, and it waits for the public access block so the "
                 "two never race.")
    return " ".join(parts)


def _s3(rng: random.Random) -> list[Program]:
    asks = _S3_ASKS * 2
    rng.shuffle(asks)
    programs = []
    for spec, ask in zip(_S3, asks, strict=False):
        reqs = _s3_reqs(spec)
        text = ", ".join(reqs[:-1]) + " and " + reqs[-1]
        programs.append(Program(ask.format(purpose=spec["purpose"], reqs=text), _s3_code(spec), _s3_prose(spec)))
    fixed = {"purpose": "finance reports", "team": "finance", "kms": "new", "noncurrent": 90}
    given = fill('''
        import pulumi
        import pulumi_aws as aws

        bucket = aws.s3.Bucket("reports", bucket="acme-finance-reports")

        pulumi.export("bucket_name", bucket.bucket)''')
    ask = rng.choice([
        "Harden this Pulumi bucket: customer-managed KMS encryption, versioning with old versions expiring after 90 "
        "days, no public access, access logging and TLS-only access. Read the names from config.",
        "This S3 bucket from our Pulumi stack has no protection at all. Add KMS encryption, versioning (clean up "
        "old versions after 90 days), Block Public Access, access logs and a policy that requires TLS.",
    ])
    prose = ("The bucket name and log bucket now come from stack config instead of being hard-coded. "
             + _s3_prose(fixed))
    programs.append(Program(ask, _s3_code(fixed), prose, input=given))
    log_prose = ("S3 server access logging only supports SSE-S3 on the target bucket, so this bucket uses AES-256 "
                 "rather than KMS, and the policy lets only the S3 logging service from this account write under "
                 "logs/. Logs expire after a year, and requests without TLS are denied.")
    programs.append(Program(
        "Write a Pulumi Python program for the bucket that receives S3 server access logs from our other buckets: "
        "private, SSE-S3, versioned, logs expire after 365 days, only the S3 logging service may write to it, and "
        "TLS is required.", _log_bucket_code(), log_prose))
    return programs


def _log_bucket_code() -> str:
    allow_logging = '''
            {
                "Sid": "AllowServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(bucket.arn, "/logs/*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },'''
    policy = tls_only_policy("s3:*", '[bucket.arn, pulumi.Output.concat(bucket.arn, "/*")]',
                             allow_logging)
    blocks = [
        'config = pulumi.Config()\nbucket_name = config.require("bucketName")\n'
        'account_id = aws.get_caller_identity().account_id',
        'bucket = aws.s3.Bucket("access-logs", bucket=bucket_name, tags={"purpose": "s3-access-logs"})',
        fill('''
            aws.s3.BucketOwnershipControls(
                "ownership",
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            )

            public_access = aws.s3.BucketPublicAccessBlock(
                "public-access",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            )

            versioning = aws.s3.BucketVersioning(
                "versioning",
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            )

            # Server access log delivery only supports SSE-S3 on the target bucket.
            aws.s3.BucketServerSideEncryptionConfiguration(
                "encryption",
                bucket=bucket.id,
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            )'''),
        _lifecycle_block({"expire": 365, "noncurrent": 30}),
        f'aws.s3.BucketPolicy(\n    "bucket-policy",\n    bucket=bucket.id,\n    policy={policy},\n'
        '    opts=pulumi.ResourceOptions(depends_on=[public_access]),\n)',
        'pulumi.export("log_bucket_name", bucket.bucket)',
    ]
    return program("Target bucket for S3 server access logs.", AWS_HEADER, *blocks)


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _s3(rng))
