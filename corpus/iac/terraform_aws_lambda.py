"""Terraform for AWS: Lambda functions with a least-privilege role and an encrypted, retained log group."""

from __future__ import annotations

import random

from .terraform_aws import APPS, ENVS, REGIONS, Draft, compose, finalize, header, prose, render, std_tags, var_block

TASKS = [
    # (slug, what the function does, the permission in words, variable (name, description), statement, env vars)
    ("order-lookup", "reads orders from a DynamoDB table", "query that table",
     ("table_arn", "DynamoDB table the function reads."),
     ('["dynamodb:GetItem", "dynamodb:Query"]', '[var.table_arn, "${var.table_arn}/index/*"]'),
     {"TABLE_ARN": "var.table_arn"}),
    ("thumbnailer", "writes thumbnails to the thumbnails/ prefix of a bucket",
     "put objects under thumbnails/",
     ("bucket_name", "Bucket holding originals and thumbnails."),
     ('["s3:PutObject"]', '["arn:aws:s3:::${var.bucket_name}/thumbnails/*"]'),
     {"BUCKET": "var.bucket_name", "PREFIX": '"thumbnails/"'}),
    ("alert-fanout", "publishes alerts to an SNS topic", "publish to that topic",
     ("topic_arn", "Topic the function publishes to."),
     ('["sns:Publish"]', "[var.topic_arn]"), {"TOPIC_ARN": "var.topic_arn"}),
    ("token-refresher", "reads an API credential from Secrets Manager",
     "read that one secret",
     ("secret_arn", "Secret holding the partner API credential."),
     ('["secretsmanager:GetSecretValue"]', "[var.secret_arn]"),
     {"SECRET_ARN": "var.secret_arn"}),
    ("event-emitter", "puts events on a custom EventBridge bus", "put events on that bus",
     ("event_bus_arn", "Bus the function writes to."),
     ('["events:PutEvents"]', "[var.event_bus_arn]"), {"EVENT_BUS_ARN": "var.event_bus_arn"}),
    ("report-builder", "reads report inputs from an S3 prefix", "read the inputs/ prefix",
     ("bucket_name", "Bucket with report inputs."),
     ('["s3:GetObject"]', '["arn:aws:s3:::${var.bucket_name}/inputs/*"]'),
     {"BUCKET": "var.bucket_name"}),
]

RUNTIMES = [("python3.12", "app.handler"), ("python3.13", "main.lambda_handler"), ("nodejs20.x", "index.handler"),
            ("nodejs22.x", "dist/index.handler")]

LAMBDA_TEMPLATE = """
@header@
@vars@
locals {
  function_name = "@function@"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = @retention@
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "this" {
  name = "${local.function_name}-role"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
      }
    ]
  })
}

data "aws_iam_policy_document" "permissions" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    actions   = @actions@
    resources = @resources@
  }
@dlq_statement@
  statement {
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}

resource "aws_lambda_function" "this" {
  function_name                  = local.function_name
  role                           = aws_iam_role.this.arn
@package@
  architectures                  = ["@arch@"]
  memory_size                    = @memory@
  timeout                        = @timeout@
  reserved_concurrent_executions = @concurrency@
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
@env_vars@
    }
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tracing_config {
    mode = "Active"
  }
@dlq@
  depends_on = [aws_iam_role_policy.this]
}

output "function_arn" {
  value = aws_lambda_function.this.arn
}
"""


def lambda_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Deploy a Lambda function {function} in {region} that {what}.",
        "Write Terraform for the {app} {slug} Lambda ({runtime}, {env}): it {what}.",
        "I need a {runtime} Lambda for {app} that {what}, with its IAM role and log group.",
        "Terraform for a Lambda function that {what}; name it {function}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        slug, what, perm, (var_name, var_desc), (actions, resources), env_vars = TASKS[i % len(TASKS)]
        runtime, handler = rng.choice(RUNTIMES)
        function = f"{app}-{env}-{slug}"
        arch = rng.choice(["arm64", "arm64", "x86_64"])
        memory, timeout = rng.choice([256, 512, 1024, 2048]), rng.choice([10, 30, 60, 120, 300])
        concurrency = rng.choice([5, 10, 25, 50, 100])
        retention = rng.choice([365, 400, 731]) if env == "prod" else rng.choice([14, 30, 90])
        dlq = rng.random() < 0.5
        log_level = rng.choice(["INFO", "WARN", "DEBUG"]) if env != "prod" else "INFO"
        image = i % 3 == 2
        if image:
            runtime = "container-image"
            vars_ = var_block("image_uri", "ECR image URI pinned by digest.")
            package = '  package_type = "Image"\n  image_uri    = var.image_uri'
        else:
            vars_ = (var_block("artifact_bucket", "Bucket holding the deployment package.")
                     + var_block("artifact_key", "Key of the zipped package."))
            package = (f'  runtime   = "{runtime}"\n  handler   = "{handler}"\n  s3_bucket = var.artifact_bucket\n'
                       "  s3_key    = var.artifact_key")
        vars_ += (var_block("kms_key_arn", "CMK for logs and environment variables (must allow CloudWatch Logs).")
                 + var_block(var_name, var_desc))
        if dlq:
            vars_ += var_block("dead_letter_queue_arn", "SQS queue for failed asynchronous invocations.")
        env_lines = "\n".join(f"      {k} = {v}" for k, v in [*env_vars.items(), ("LOG_LEVEL", f'"{log_level}"')])
        code = render(
            LAMBDA_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_, function=function,
            retention=retention, actions=actions, resources=resources, package=package,
            arch=arch, memory=memory, timeout=timeout, concurrency=concurrency, env_vars=env_lines,
            dlq_statement=("\n  statement {\n    actions   = [\"sqs:SendMessage\"]\n"
                           "    resources = [var.dead_letter_queue_arn]\n  }\n" if dlq else ""),
            dlq=("\n  dead_letter_config {\n    target_arn = var.dead_letter_queue_arn\n  }\n" if dlq else ""))
        clauses = [
            ("run it as {runtime} on {arch} with {memory} MB and a {timeout}-second timeout",
             "size it at {memory} MB with a {timeout}s timeout ({runtime}, {arch})"),
            ("give it a role that can only write its own logs and {perm}", "least-privilege role: its own "
             "log group plus {perm}, nothing else"),
            "keep its logs {retention} days in a KMS-encrypted log group",
            ("cap concurrency at {concurrency}", "reserve {concurrency} concurrent executions"),
            "enable X-Ray tracing",
            "encrypt environment variables with a customer-managed key",
        ]
        if dlq:
            clauses.append("send failed async invocations to an SQS dead-letter queue")
        fields = dict(function=function, region=region, what=what, app=app, slug=slug, runtime=runtime, env=env,
                      arch=arch, memory=memory, timeout=timeout, retention=retention, concurrency=concurrency,
                      perm=perm)
        instruction = compose(rng, openers, clauses, n_reqs=rng.randint(4, len(clauses)), **fields)
        inp = ""
        if i == 3:
            inp = "\n".join([f"Function: {function}", f"Runtime: {runtime} ({arch})", f"Purpose: {what}",
                             f"Memory/timeout: {memory} MB / {timeout} s", f"Log retention: {retention} days",
                             f"Max concurrency: {concurrency}"])
            instruction = "Build the Lambda described in this ticket with Terraform, including its role and logs."
        text = prose(rng, [
            f"The role can write only to the function's own log group and {perm}; X-Ray is the "
            "one wildcard because its API has no resource-level permissions.",
            f"The log group is created before the function with {retention}-day retention and a KMS key, so Lambda "
            "never auto-creates an unencrypted group that keeps logs forever.",
            f"Reserved concurrency of {concurrency} protects downstream services and the account's shared pool.",
            "Failed asynchronous events land in the dead-letter queue instead of being dropped after two retries."
            if dlq else "",
            "Environment variables hold only resource names, never secrets, and are encrypted with a "
            "customer-managed key.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, lambda_family(rng, 9))
