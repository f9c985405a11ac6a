"""Terraform for AWS: encrypted CloudWatch log groups and least-privilege IAM roles for AWS services."""

from __future__ import annotations

import random
from functools import partial

from .terraform_aws import (
    APPS,
    ENVS,
    ORGS,
    REGIONS,
    Draft,
    compose,
    finalize,
    header,
    kms_key,
    prose,
    render,
    service_key_statement,
    std_tags,
    var_block,
)

LOG_GROUPS = [
    ("/ecs/{app}-{env}", "ECS service containers"),
    ("/app/{env}/{app}/api", "the API's application logs"),
    ("/aws/apigateway/{app}-{env}-access", "API Gateway access logs"),
    ("/eks/{app}-{env}/application", "EKS workloads shipped by Fluent Bit"),
    ("/batch/{app}-{env}", "batch job output"),
    ("/app/{env}/{app}/audit", "application audit events"),
    ("/ec2/{app}-{env}/syslog", "instance syslog from the CloudWatch agent"),
    ("/aws/vendedlogs/{app}-{env}-states", "Step Functions execution history"),
]

LOG_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@vars@
locals {
  log_group_name = "@group@"
}
@kms@
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = @retention@
  kms_key_id        = aws_kms_key.logs.arn
  log_group_class   = "@klass@"
  skip_destroy      = @skip@
}
@alarm@
output "log_group_arn" {
  value = aws_cloudwatch_log_group.this.arn
}
"""

LOG_ALARM = """
resource "aws_cloudwatch_log_metric_filter" "errors" {
  name           = "@name@-errors"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "@pattern@"

  metric_transformation {
    name          = "ErrorCount"
    namespace     = "@namespace@"
    value         = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "@name@-error-rate"
  namespace           = "@namespace@"
  metric_name         = "ErrorCount"
  statistic           = "Sum"
  period              = @period@
  evaluation_periods  = 1
  threshold           = @threshold@
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
}
"""


def log_group_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a CloudWatch log group {group} in {region} for {what}.",
        "Write Terraform for the log group that holds {what} ({app}, {env}).",
        "I need {what} to go to an encrypted CloudWatch log group named {group}.",
        "Terraform: KMS-encrypted log group for {app} {what}, region {region}.",
    ]
    drafts = []
    apps, groups = rng.sample(APPS, n), rng.sample(LOG_GROUPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        group_t, what = groups[i]
        group = group_t.format(app=app, env=env)
        name = f"{app}-{env}"
        retention = rng.choice([365, 400, 731, 1827]) if env == "prod" or "audit" in group else rng.choice([30, 90])
        ia = "audit" in group or "syslog" in group or rng.random() < 0.2
        skip = env == "prod"
        # Error-count alarms only make sense for application output, not access logs or execution history.
        alarm = not ia and group.startswith(("/ecs", "/app", "/eks", "/batch")) and rng.random() < 0.7
        threshold, minutes = rng.choice([0, 5, 10, 25]), rng.choice([5, 15])
        json_logs = rng.random() < 0.5
        pattern = '{ $.level = \\"ERROR\\" }' if json_logs else "?ERROR ?Exception"
        key_use = service_key_statement(
            "AllowThisLogGroupOnly", f"logs.{region}.amazonaws.com",
            '["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]',
            '{ ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = '
            f'"arn:aws:logs:{region}:${{data.aws_caller_identity.current.account_id}}:log-group:'
            '${local.log_group_name}" } }')
        code = render(
            LOG_TEMPLATE, header=header(region, std_tags(rng, app, env)),
            vars=var_block("alarm_topic_arn", "SNS topic for log-based alarms.") if alarm else "", group=group,
            kms=kms_key("logs", f"CloudWatch Logs {group}", f"logs-{name}", rng.choice([7, 30]), [key_use]),
            retention=retention, klass="INFREQUENT_ACCESS" if ia else "STANDARD", skip=str(skip).lower(),
            alarm=render(LOG_ALARM, name=name, pattern=pattern, namespace=f"{app.title()}/{env}",
                         threshold=threshold, minutes=minutes, period=minutes * 60) if alarm else "")
        clauses = [
            ("keep logs {retention} days", "set retention to {retention} days"),
            ("encrypt it with a KMS key that only this log group may use",
             "use a dedicated CMK scoped to this log group"),
        ]
        if ia:
            clauses.append("use the Infrequent Access class since we rarely query it live")
        if skip:
            clauses.append("keep the log group even if the stack is destroyed")
        if alarm:
            clauses.append(f"alarm when more than {threshold} {'JSON ERROR entries' if json_logs else 'ERROR lines'}"
                           f" appear within {minutes} minutes")
        fields = dict(group=group, region=region, what=what, app=app, env=env, retention=retention)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 3:
            inp = f'resource "aws_cloudwatch_log_group" "this" {{\n  name = "{group}"\n}}\n'
            instruction = (f"This log group keeps data forever, unencrypted. Give it {retention}-day retention and "
                           "encrypt it with a dedicated customer-managed key.")
        text = prose(rng, [
            "The log group is encrypted with its own customer-managed key, and the key policy lets CloudWatch Logs "
            "use it only for this log group's ARN through the encryption context condition.",
            f"Retention is {retention} days, so logs do not pile up (and cost) forever.",
            "The Infrequent Access class halves ingestion cost for logs that are kept for audit rather than live "
            "troubleshooting." if ia else "",
            "skip_destroy keeps the data if the stack is torn down, which matters for investigations." if skip else "",
            "A metric filter counts error entries and the alarm notifies the on-call topic." if alarm else "",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


ROLE_TEMPLATE = """
@header@
@vars@
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["@assume_action@"]

    principals {
      type        = "@principal_type@"
      identifiers = [@principal@]
    }
@assume_condition@  }
}

resource "aws_iam_role" "this" {
  name                 = "@role@"
  description          = "@description@"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = @session@@boundary@
}

data "aws_iam_policy_document" "permissions" {
@statements@
}

resource "aws_iam_role_policy" "this" {
  name   = "@role@-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}
@extra@
output "role_arn" {
  value = aws_iam_role.this.arn
}
"""


def _stmt(sid: str, actions: list[str], resources: list[str] | str) -> str:
    """A policy statement; resources given as a plain string is already a list expression (a list variable)."""
    acts = ", ".join(f'"{a}"' for a in actions)
    res = resources if isinstance(resources, str) else "[" + ", ".join(resources) + "]"
    return f'  statement {{\n    sid       = "{sid}"\n    actions   = [{acts}]\n    resources = {res}\n  }}\n'


def _fill(subst: dict[str, str], text: str) -> str:
    for key, value in subst.items():
        text = text.replace(f"@{key}@", value)
    return text


ROLE_SCENARIOS = [
    # (slug, service wording, principal type, principal, variables, statements, extra resources, requirement)
    ("ec2", "EC2 instances", "Service", '"ec2.amazonaws.com"',
     [("bucket_name", "Bucket the instances read configuration from.")],
     [("ReadConfigPrefix", ["s3:GetObject"], ['"arn:aws:s3:::${var.bucket_name}/@prefix@/*"']),
      ("ListConfigPrefix", ["s3:ListBucket"], ['"arn:aws:s3:::${var.bucket_name}"'])],
     """
resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = aws_iam_role.this.name
  role = aws_iam_role.this.name
}
""", "read objects under the @prefix@/ prefix of one bucket and be reachable through Session Manager"),
    ("ecs-task", "ECS tasks", "Service", '"ecs-tasks.amazonaws.com"',
     [("queue_arn", "Queue the service consumes.")],
     [("ReadAppParameters", ["ssm:GetParametersByPath", "ssm:GetParameter"],
       ['"arn:aws:ssm:@region@:${data.aws_caller_identity.current.account_id}:parameter/@env@/@app@/*"']),
      ("ConsumeQueue", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
       ["var.queue_arn"])],
     "", "read SSM parameters under /@env@/@app@/ and consume one SQS queue"),
    ("lambda", "a Lambda function", "Service", '"lambda.amazonaws.com"',
     [("table_arn", "DynamoDB table the function writes to.")],
     [("WriteTable", ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"], ["var.table_arn"]),
      ("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
       ['"arn:aws:logs:@region@:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/@app@-@env@:*"'])],
     "", "write items to one DynamoDB table and to its own log group"),
    ("states", "a Step Functions state machine", "Service", '"states.amazonaws.com"',
     [("function_arns", "Lambda functions the workflow invokes.", "list(string)")],
     [("InvokeWorkflowFunctions", ["lambda:InvokeFunction"], "var.function_arns")],
     "", "invoke only the Lambda functions in a list variable"),
    ("codebuild", "CodeBuild", "Service", '"codebuild.amazonaws.com"',
     [("repository_arn", "ECR repository the build pushes to.")],
     [("EcrLogin", ["ecr:GetAuthorizationToken"], ['"*"']),
      ("PushImage", ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                     "ecr:CompleteLayerUpload", "ecr:PutImage"], ["var.repository_arn"]),
      ("BuildLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
       ['"arn:aws:logs:@region@:${data.aws_caller_identity.current.account_id}:log-group:/aws/codebuild/@app@-*"'])],
     "", "push images to one ECR repository and write its build logs"),
    ("github", "GitHub Actions deployments from @org@/@app@ on main", "Federated",
     '"arn:aws:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"',
     [("site_bucket_name", "Bucket holding the static site."),
      ("distribution_arn", "CloudFront distribution to invalidate.")],
     [("SyncSite", ["s3:PutObject", "s3:DeleteObject"], ['"arn:aws:s3:::${var.site_bucket_name}/*"']),
      ("ListSite", ["s3:ListBucket"], ['"arn:aws:s3:::${var.site_bucket_name}"']),
      ("Invalidate", ["cloudfront:CreateInvalidation"], ["var.distribution_arn"])],
     "", "upload the static site and invalidate CloudFront, assumable only from the main branch"),
    ("glue", "an AWS Glue job", "Service", '"glue.amazonaws.com"',
     [("lake_bucket_name", "Data lake bucket.")],
     [("ReadRaw", ["s3:GetObject"], ['"arn:aws:s3:::${var.lake_bucket_name}/raw/@app@/*"']),
      ("WriteCurated", ["s3:PutObject"], ['"arn:aws:s3:::${var.lake_bucket_name}/curated/@app@/*"']),
      ("ListLake", ["s3:ListBucket"], ['"arn:aws:s3:::${var.lake_bucket_name}"'])],
     """
resource "aws_iam_role_policy_attachment" "glue_service" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
}
""", "read raw/@app@/ and write curated/@app@/ in the data lake bucket"),
]

GITHUB_CONDITION = """
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:@org@/@app@:ref:refs/heads/main"]
    }
"""


def iam_role_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an IAM role for {service} in the {app} project ({env}) that can only {req}.",
        "Write a least-privilege IAM role, {role}, for {service}; it should {req}.",
        "I need Terraform for the IAM role used by {service} in {region}. Scope: {req}.",
        "Terraform: IAM role for {service} ({app}, {env}) allowed to {req} and nothing else.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region, org = apps[i], rng.choice(ENVS), rng.choice(REGIONS), rng.choice(ORGS)
        slug, service_t, ptype, principal, vars_spec, stmts, extra, req_t = ROLE_SCENARIOS[i % len(ROLE_SCENARIOS)]
        prefix = rng.choice(["config", "bootstrap", "settings"])

        subst = {"app": app, "env": env, "org": org, "region": region, "prefix": prefix}
        fill = partial(_fill, subst)
        role = f"{app}-{env}-{slug}"
        service, req = fill(service_t), fill(req_t)
        session = rng.choice([3600, 3600, 7200, 14400])
        boundary = rng.random() < 0.3
        vars_ = "".join(var_block(v[0], v[1], *(v[2:] or ("string",))) for v in vars_spec)
        if boundary:
            vars_ += var_block("permissions_boundary_arn", "Boundary policy required for roles in this account.")
        caller = "aws_caller_identity" in "".join("".join(s[2]) for s in stmts) or ptype == "Federated"
        if caller:
            vars_ = 'data "aws_caller_identity" "current" {}\n' + vars_
        code = render(
            ROLE_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            assume_action="sts:AssumeRoleWithWebIdentity" if ptype == "Federated" else "sts:AssumeRole",
            principal_type=ptype, principal=principal,
            assume_condition=fill(GITHUB_CONDITION) if ptype == "Federated" else "", role=role,
            description=f"Used by {service}", session=session,
            boundary="\n  permissions_boundary = var.permissions_boundary_arn" if boundary else "",
            statements="\n".join(fill(_stmt(*s)) for s in stmts).rstrip("\n"), extra=extra)
        clauses = [
            ("trust only {principal_words}", "allow only {principal_words} to assume it"),
            ("limit sessions to {hours} hour(s)", "set the maximum session duration to {hours}h"),
        ]
        if boundary:
            clauses.append("attach the permissions boundary passed in as a variable")
        fields = dict(service=service, app=app, env=env, req=req, role=role, region=region, hours=session // 3600,
                      principal_words="GitHub's OIDC provider for that repository and branch"
                      if ptype == "Federated" else principal.strip('"'))
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 5:
            inp = (f'resource "aws_iam_role_policy_attachment" "admin" {{\n  role       = "{role}"\n'
                   '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n')
            instruction = (f"The {role} role currently gets AdministratorAccess. Replace that with a role and "
                           f"policy that can only {req}.")
        text = prose(rng, [
            f"The trust policy lets only {fields['principal_words']} assume the role, and the inline policy grants "
            "just the listed actions on the specific resources, with no wildcards except where the API has no "
            "resource-level permissions.",
            "The GitHub trust is pinned to the audience and to the main branch of one repository, so forks and "
            "other branches cannot obtain credentials." if ptype == "Federated" else "",
            f"Sessions last at most {session // 3600} hour(s)" + (", and the permissions boundary caps what the "
                                                                   "role could ever be granted." if boundary else "."),
            "Policies are built with aws_iam_policy_document, so Terraform validates the JSON and plan diffs stay "
            "readable.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, log_group_family(rng, 8) + iam_role_family(rng, 8))
