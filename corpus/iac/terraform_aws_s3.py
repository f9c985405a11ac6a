"""Terraform for AWS: private S3 data buckets and S3 access-log buckets."""

from __future__ import annotations

import random

from .terraform_aws import (
    APPS,
    ENVS,
    ORGS,
    REGIONS,
    SAME_ACCOUNT,
    Draft,
    compose,
    finalize,
    header,
    kms_key,
    prose,
    render,
    statements,
    std_tags,
    var_block,
)

PURPOSES = [
    ("raw", "raw event files from the ingestion pipeline"),
    ("exports", "nightly CSV exports for the finance team"),
    ("artifacts", "build artifacts from CI"),
    ("uploads", "documents uploaded by customers"),
    ("reports", "generated PDF reports"),
    ("dumps", "database dump files"),
    ("models", "ML model checkpoints"),
    ("archive", "audit archives that must be kept for years"),
    ("lake", "curated Parquet datasets"),
    ("media", "transcoded video renditions"),
]

PUBLIC_BLOCK = """
resource "aws_s3_bucket_public_access_block" "@n@" {
  bucket = aws_s3_bucket.@n@.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
@ownership@
resource "aws_s3_bucket_versioning" "@n@" {
  bucket = aws_s3_bucket.@n@.id

  versioning_configuration {
    status = "Enabled"
  }
}
"""

OWNERSHIP = """
resource "aws_s3_bucket_ownership_controls" "@n@" {
  bucket = aws_s3_bucket.@n@.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}
"""

TLS_ONLY = {
    "Sid": '"DenyInsecureTransport"', "Effect": '"Deny"', "Principal": '"*"', "Action": '"s3:*"',
    "Resource": '[aws_s3_bucket.@n@.arn, "${aws_s3_bucket.@n@.arn}/*"]',
    "Condition": '{ Bool = { "aws:SecureTransport" = "false" } }',
}

DATA_BUCKET = """
@header@
@caller@@vars@
@kms@
resource "aws_s3_bucket" "data" {
  bucket = "@bucket@"
}
@public@
resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = @key_arn@
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    id     = "tier-and-expire"
    status = "Enabled"

    filter {}

    transition {
      days          = @ia@
      storage_class = "STANDARD_IA"
    }

@cold_transition@@expiration@
    noncurrent_version_expiration {
      noncurrent_days           = @noncurrent@
      newer_noncurrent_versions = @keep_versions@
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = @multipart@
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}
@logging@@notify@@policy@
output "bucket_arn" {
  value = aws_s3_bucket.data.arn
}
"""


def data_bucket_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a private S3 bucket called {bucket} in {region} for {desc}.",
        "I need Terraform for the {env} {app} bucket that stores {desc} ({bucket}, {region}).",
        "Write Terraform for an S3 bucket named {bucket} holding {desc}; it lives in {region}.",
        "Provision storage for {desc} in {region}: one S3 bucket, {bucket}, for the {app} team.",
    ]
    drafts = []
    apps, purposes = rng.sample(APPS, n), rng.sample(PURPOSES, n)
    for i in range(n):
        app, env, region, org = apps[i], rng.choice(ENVS), rng.choice(REGIONS), rng.choice(ORGS)
        slug, desc = purposes[i]
        bucket = f"{org}-{app}-{slug}-{env}"
        ia = rng.choice([30, 45, 60, 90])
        cold_class = rng.choice(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"])
        own_key = i % 3 == 0
        # At most two extras on top of the core bucket keeps each answer focused (and under the length budget).
        extras = (rng.sample(["logging", "notify"], rng.choice([0, 1])) if own_key
                  else rng.sample(["logging", "tls", "notify"], rng.choice([1, 2])))
        two_tiers = not own_key and rng.random() < 0.6
        cold = ia + rng.choice([60, 90, 150, 275])
        expire = rng.choice([0, 0, cold + 365, cold + 730]) if len(extras) < 2 else 0
        if not two_tiers:
            cold, expire = 0, rng.choice([0, ia + 335, ia + 700])
        noncurrent, keep_versions = rng.choice([30, 60, 90, 180]), rng.choice([2, 3, 5])
        multipart = rng.choice([3, 7, 14])
        logging, tls, notify = "logging" in extras, "tls" in extras, "notify" in extras
        n_ = "data"
        vars_ = "" if own_key else var_block("kms_key_arn", "ARN of the existing KMS key that encrypts the bucket.")
        if logging:
            vars_ += var_block("access_log_bucket", "Existing bucket that receives S3 server access logs.")
        code = render(
            DATA_BUCKET, header=header(region, std_tags(rng, app, env)), vars=vars_, bucket=bucket,
            caller='data "aws_caller_identity" "current" {}\n' if own_key else "",
            kms=kms_key("data", f"Encrypts s3://{bucket}", f"s3-{bucket}") if own_key else "",
            public=PUBLIC_BLOCK.replace("@ownership@", OWNERSHIP).replace("@n@", n_),
            key_arn="aws_kms_key.data.arn" if own_key else "var.kms_key_arn",
            ia=ia, noncurrent=noncurrent, keep_versions=keep_versions,
            cold_transition=("\n    transition {\n" f"      days          = {cold}\n"
                             f"      storage_class = \"{cold_class}\"\n    }}\n" if cold else ""),
            multipart=multipart,
            expiration=f"\n    expiration {{\n      days = {expire}\n    }}\n" if expire else "",
            logging=("\nresource \"aws_s3_bucket_logging\" \"data\" {\n  bucket        = aws_s3_bucket.data.id\n"
                     "  target_bucket = var.access_log_bucket\n  target_prefix = \"" + bucket + "/\"\n}\n"
                     if logging else ""),
            notify=("\n# Object events go to EventBridge so consumers subscribe with rules instead of polling.\n"
                    "resource \"aws_s3_bucket_notification\" \"data\" {\n  bucket      = aws_s3_bucket.data.id\n"
                    "  eventbridge = true\n}\n" if notify else ""),
            policy=(render("""
resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
@stmts@
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.data]
}
""", stmts=statements([{k: v.replace("@n@", n_) for k, v in TLS_ONLY.items()}])) if tls else ""),
        )
        cold_name = {"GLACIER_IR": "Glacier Instant Retrieval", "GLACIER": "Glacier Flexible Retrieval",
                     "DEEP_ARCHIVE": "Glacier Deep Archive"}[cold_class]
        clauses = [
            ("block all public access and disable ACLs", "keep it private with ACLs disabled"),
            ("turn on versioning", "enable versioning"),
            "encrypt objects with SSE-KMS using " + ("a new customer-managed key" if own_key
                                                     else "an existing key passed in as kms_key_arn"),
            "move objects to Standard-IA after {ia} days and to {cold_name} after {cold} days" if cold else
            "move objects to Standard-IA after {ia} days",
            "expire noncurrent versions after {noncurrent} days but keep the newest {keep}",
            ("abort incomplete multipart uploads after {multipart} days",
             "clean up unfinished multipart uploads after {multipart} days"),
        ]
        if expire:
            clauses.append("delete current objects after {expire} days")
        if logging:
            clauses.append("send server access logs to an existing log bucket")
        if tls:
            clauses.append("deny any request that does not use TLS")
        if notify:
            clauses.append("publish object events to EventBridge")
        fields = dict(bucket=bucket, region=region, desc=desc, env=env, app=app, ia=ia, cold=cold,
                      cold_name=cold_name, noncurrent=noncurrent, keep=keep_versions, multipart=multipart,
                      expire=expire)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 3:
            inp = (f'resource "aws_s3_bucket" "data" {{\n  bucket = "{bucket}"\n}}\n\n'
                   'resource "aws_s3_bucket_acl" "data" {\n  bucket = aws_s3_bucket.data.id\n'
                   '  acl    = "private"\n}\n')
            instruction = (f"Add encryption and a lifecycle rule to this bucket in {region}, and lock it down. "
                           f"Objects should go to Standard-IA at {ia} days" + (f" and {cold_name} at {cold} days; "
                                                                                if cold else "; ") +
                           f"old versions can go after {noncurrent} days.")
        text = prose(rng, [
            "Public access is blocked at the bucket and ACLs are disabled with BucketOwnerEnforced, so only IAM and "
            "the bucket policy grant access.",
            "Default encryption uses SSE-KMS with a customer-managed key, and Bucket Keys cut the number of KMS "
            "calls (and their cost) for busy prefixes.",
            f"Versioning protects against overwrites and deletes, while the lifecycle rule keeps that from growing "
            f"without bound: noncurrent versions expire after {noncurrent} days.",
            f"Objects tier down to Standard-IA after {ia} days"
            + (f" and to {cold_name} after {cold} days" if cold else "")
            + f", which suits {desc} that are rarely read once they age.",
            "The bucket policy denies plain-HTTP requests." if tls else
            "Incomplete multipart uploads are cleaned up so abandoned parts do not accrue storage charges.",
        ])
        if i == 3:
            text = ("The separate ACL resource is gone: BucketOwnerEnforced ownership disables ACLs and the public "
                    "access block keeps the bucket private. " + text.split(". ", 1)[1])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


LOG_BUCKET = """
@header@
data "aws_caller_identity" "current" {}
@vars@
resource "aws_s3_bucket" "logs" {
  bucket = "@bucket@"
}
@public@
# Access log delivery supports only SSE-S3 on the target bucket, not SSE-KMS.
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}
@transition@
    expiration {
      days = @retention@
    }

    noncurrent_version_expiration {
      noncurrent_days = @noncurrent@
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
@stmts@
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
@sources@
output "log_bucket_name" {
  value = aws_s3_bucket.logs.id
}
"""

LOG_SOURCES = """
resource "aws_s3_bucket_logging" "sources" {
  for_each = toset(var.source_bucket_names)

  bucket        = each.value
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "@prefix@${each.value}/"
@partition@
  depends_on = [aws_s3_bucket_policy.logs]
}
"""


def log_bucket_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a dedicated S3 bucket ({bucket}) in {region} to receive server access logs for the {env} account.",
        "We need somewhere to collect S3 access logs for {app}; write Terraform for a log bucket named {bucket}.",
        "Terraform for an access-log bucket in {region} called {bucket}, owned by the {app} platform team.",
        "Set up S3 server access logging for the {app} buckets in {region}, with {bucket} as the destination.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region, org = apps[i], rng.choice(ENVS), rng.choice(REGIONS), rng.choice(ORGS)
        bucket = f"{org}-{app}-{env}-{rng.choice(['access-logs', 's3-logs', 'log-archive', 'audit-logs'])}"
        prefix = rng.choice(["s3-access/", "access-logs/", "logs/", "s3/"])
        retention = rng.choice([90, 180, 365, 400, 730, 1095])
        noncurrent = rng.choice([7, 14, 30])
        sources = i % 4 != 0
        partition = sources and rng.random() < 0.4
        transition = retention >= 180 and not partition and rng.random() < 0.6
        vars_ = var_block("source_bucket_names", "Buckets whose server access logs are delivered here.",
                          "list(string)") if sources else ""
        cond = SAME_ACCOUNT
        if sources:
            cond = ("{\n          StringEquals = { \"aws:SourceAccount\" = "
                    "data.aws_caller_identity.current.account_id }"
                    "\n          ArnLike      = { \"aws:SourceArn\" = [for b in var.source_bucket_names : "
                    "\"arn:aws:s3:::${b}\"] }\n        }")
        stmts = [
            {"Sid": '"AllowS3LogDelivery"', "Effect": '"Allow"',
             "Principal": '{ Service = "logging.s3.amazonaws.com" }', "Action": '"s3:PutObject"',
             "Resource": f'"${{aws_s3_bucket.logs.arn}}/{prefix}*"', "Condition": cond},
        ]
        if not sources:
            stmts.append({k: v.replace("@n@", "logs") for k, v in TLS_ONLY.items()})
        part = ("\n  target_object_key_format {\n    partitioned_prefix {\n"
                f"      partition_date_source = \"{rng.choice(['EventTime', 'DeliveryTime'])}\"\n    }}\n  }}\n")
        code = render(
            LOG_BUCKET, header=header(region, std_tags(rng, app, env)), vars=vars_, bucket=bucket,
            # New buckets already enforce bucket ownership; the explicit resource is kept only where room allows.
            public=PUBLIC_BLOCK.replace("@ownership@", "" if sources else OWNERSHIP).replace("@n@", "logs"),
            prefix=prefix, retention=retention, noncurrent=noncurrent,
            transition=("\n    transition {\n      days          = 30\n      storage_class = \"STANDARD_IA\"\n    }\n"
                        if transition else ""),
            stmts=statements(stmts),
            sources=render(LOG_SOURCES, prefix=prefix, partition=part if partition else "") if sources else "")
        clauses = [
            "keep it private and versioned" if sources else "keep it private with ownership enforced and versioning on",
            "encrypt it at rest in a way S3 log delivery supports",
            "expire log objects after {retention} days",
            "allow only the S3 logging service from this account to write" + ("" if sources else ", and only over TLS"),
        ]
        if transition:
            clauses.append("move logs to Standard-IA after 30 days")
        if sources:
            clauses.append("turn on access logging for a list of source buckets given as a variable")
            if partition:
                clauses.append("use date-partitioned log object keys")
        fields = dict(bucket=bucket, region=region, env=env, app=app, prefix=prefix, retention=retention)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 5:
            inp = "\n".join(["Requirements for the log bucket:", f"- name: {bucket}", f"- region: {region}",
                             f"- log prefix: {prefix}", f"- keep logs {retention} days",
                             "- only S3 log delivery from our own account may write to it"])
            instruction = "Write the Terraform for the S3 access-log bucket described in the input."
        text = prose(rng, [
            "The bucket uses SSE-S3 (AES256) because S3 server access log delivery cannot write to a bucket whose "
            "default encryption is SSE-KMS.",
            "Instead of the legacy log-delivery ACL, the bucket policy grants s3:PutObject to the "
            "logging.s3.amazonaws.com service principal, limited to this account"
            + (" and the listed source buckets." if sources else "."),
            f"Logs expire after {retention} days, so the bucket does not grow forever, and noncurrent versions are "
            f"removed after {noncurrent} days.",
            "Public access is blocked and ACLs stay disabled (BucketOwnerEnforced, the default for new buckets), so "
            "every delivered log belongs to this account.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, data_bucket_family(rng, 9) + log_bucket_family(rng, 9))

