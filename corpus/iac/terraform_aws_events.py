"""Terraform for AWS: EventBridge rules with their targets, and AWS Backup plans."""

from __future__ import annotations

import random

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
    std_tags,
    var_block,
)

# (slug, what triggers the rule, rule body lines, target kind)
RULES = [
    ("nightly-cleanup", "every night at {hour}:00 UTC", 'schedule_expression = "cron(0 {hour} * * ? *)"', "lambda"),
    ("guardduty-high", "GuardDuty findings of severity 7 or higher", """event_pattern = jsonencode({
    source        = ["aws.guardduty"]
    "detail-type" = ["GuardDuty Finding"]
    detail        = { severity = [{ numeric = [">=", 7] }] }
  })""", "sns"),
    ("ec2-stopped", "EC2 instances entering the stopped or terminated state", """event_pattern = jsonencode({
    source        = ["aws.ec2"]
    "detail-type" = ["EC2 Instance State-change Notification"]
    detail        = { state = ["stopped", "terminated"] }
  })""", "sqs"),
    ("uploads-created", "new objects in the {bucket} bucket", """event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail        = { bucket = { name = ["{bucket}"] } }
  })""", "sfn"),
    ("ecs-task-failed", "ECS tasks in the {cluster} cluster that stop with a non-zero exit code",
     """event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [{ wildcard = "*:cluster/{cluster}" }]
      lastStatus = ["STOPPED"]
      containers = { exitCode = [{ "anything-but" = 0 }] }
    }
  })""", "sns"),
    ("health-issues", "AWS Health events for EC2, RDS and Lambda", """event_pattern = jsonencode({
    source        = ["aws.health"]
    "detail-type" = ["AWS Health Event"]
    detail        = { service = ["EC2", "RDS", "LAMBDA"] }
  })""", "sns"),
    ("report-every-15m", "every {minutes} minutes", 'schedule_expression = "rate({minutes} minutes)"', "lambda"),
    ("pipeline-failed", "failed CodePipeline executions", """event_pattern = jsonencode({
    source        = ["aws.codepipeline"]
    "detail-type" = ["CodePipeline Pipeline Execution State Change"]
    detail        = { state = ["FAILED"] }
  })""", "sqs"),
    ("weekly-export", "every Monday at {hour}:30 UTC", 'schedule_expression = "cron(30 {hour} ? * MON *)"', "sfn"),
]

TARGETS = {
    "lambda": ("var.function_arn", var_block("function_arn", "Function invoked by the rule.") + var_block(
        "function_name", "Name of the same function, for the invoke permission."), """
resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}
""", "invoke an existing Lambda function"),
    "sns": ("var.topic_arn", var_block("topic_arn", "Encrypted SNS topic whose policy and key allow EventBridge."),
            "", "notify an existing SNS topic"),
    "sqs": ("aws_sqs_queue.events.arn", "", """
resource "aws_sqs_queue" "events" {
  name                      = "@name@-events"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowThisRuleOnly"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.events.arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.this.arn } }
      }
    ]
  })
}
""", "deliver the events to a new encrypted SQS queue"),
    "sfn": ("var.state_machine_arn", var_block("state_machine_arn", "Step Functions state machine to start."), """
resource "aws_iam_role" "events" {
  name = "@name@-events"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sts:AssumeRole"
      }
    ]
  })
}

resource "aws_iam_role_policy" "start_execution" {
  name = "start-execution"
  role = aws_iam_role.events.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = "states:StartExecution"
        Resource = var.state_machine_arn
      }
    ]
  })
}
""", "start an existing Step Functions state machine"),
}

EVENT_TEMPLATE = """
@header@
@vars@@bus@
resource "aws_cloudwatch_event_rule" "this" {
  name        = "@name@"
  description = "@desc@"@bus_ref@
  @body@
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name@bus_ref@
  target_id = "@target_id@"
  arn       = @target_arn@@role@

  retry_policy {
    maximum_event_age_in_seconds = @max_age@
    maximum_retry_attempts       = @retries@
  }

  dead_letter_config {
    arn = var.dead_letter_queue_arn
  }
}
@extra@"""

CUSTOM_BUS = """
resource "aws_cloudwatch_event_bus" "this" {
  name = "@bus@"
}

resource "aws_cloudwatch_event_archive" "this" {
  name             = "@bus@-archive"
  event_source_arn = aws_cloudwatch_event_bus.this.arn
  retention_days   = @archive_days@
}
"""


def eventbridge_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an EventBridge rule in {region} for the {env} {app} account that fires on {trigger}.",
        "Write Terraform for an EventBridge rule named {name}: on {trigger}, {target_words}.",
        "I want EventBridge to react to {trigger} ({app}, {env}).",
        "Terraform please: EventBridge rule {name} in {region} matching {trigger}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        slug, trigger_t, body_t, kind = RULES[i % len(RULES)]
        name = f"{app}-{env}-{slug}"
        fmt = dict(hour=rng.choice([1, 2, 3, 4, 5]), minutes=rng.choice([5, 10, 15, 30]),
                   bucket=f"{rng.choice(ORGS)}-{app}-uploads", cluster=f"{app}-{env}")
        trigger = trigger_t.format(**fmt)
        body = body_t
        for k, v in fmt.items():
            body = body.replace("{" + k + "}", str(v))
        target_arn, target_vars, extra, target_words = TARGETS[kind]
        custom_bus = kind == "sqs" and rng.random() < 0.5 and "schedule" not in body
        bus = f"{app}-{env}"
        if custom_bus:
            # Re-scope the rule to application events published on a dedicated bus.
            trigger = f"OrderPlaced events from com.{app}.orders on the {bus} bus"
            body = ('event_pattern = jsonencode({\n    source        = ["com.' + app + '.orders"]\n'
                    '    "detail-type" = ["OrderPlaced"]\n  })')
        max_age, retries = rng.choice([900, 3600, 21600, 86400]), rng.choice([3, 8, 24, 185])
        archive_days = rng.choice([7, 30, 90])
        vars_ = target_vars + var_block("dead_letter_queue_arn", "SQS queue for events EventBridge cannot deliver.")
        code = render(
            EVENT_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            bus=CUSTOM_BUS.replace("@bus@", bus).replace("@archive_days@", str(archive_days)) if custom_bus else "",
            bus_ref="\n  event_bus_name = aws_cloudwatch_event_bus.this.name" if custom_bus else "",
            name=name, desc=trigger[0].upper() + trigger[1:], body=body, target_id=kind + "-target",
            target_arn=target_arn, role="\n  role_arn  = aws_iam_role.events.arn" if kind == "sfn" else "",
            max_age=max_age, retries=retries, extra=extra.replace("@name@", name))
        clauses = [
            "{target_words}",
            ("retry delivery for at most {max_age} seconds and {retries} attempts",
             "cap retries at {retries} attempts within {max_age}s"),
            ("send undeliverable events to a dead-letter queue given as a variable",
             "park failed deliveries in an existing DLQ"),
        ]
        if kind in ("lambda", "sqs"):
            clauses.append("allow only this rule to " + ("invoke the function" if kind == "lambda" else "send to "
                                                                                                        "the queue"))
        if kind == "sfn":
            clauses.append("give EventBridge a role that can only start that state machine")
        if custom_bus:
            clauses.append("use a custom event bus {bus} with a {archive_days}-day archive for replay")
        fields = dict(region=region, env=env, app=app, trigger=trigger, name=name, target_words=target_words,
                      max_age=max_age, retries=retries, bus=bus, archive_days=archive_days)
        instruction = compose(rng, openers, clauses, **fields)
        why_target = {
            "lambda": "The Lambda permission names this rule as the source ARN, so no other rule or account can "
                      "invoke the function through EventBridge.",
            "sns": "The topic is encrypted, so its key policy must let events.amazonaws.com use the key; otherwise "
                   "deliveries fail silently into the dead-letter queue.",
            "sqs": "The queue policy lets EventBridge send only when the source ARN is this rule, and the queue is "
                   "encrypted with SSE-SQS.",
            "sfn": "EventBridge assumes a dedicated role whose only permission is states:StartExecution on this one "
                   "state machine.",
        }[kind]
        text = prose(rng, [
            why_target,
            f"Failed deliveries are retried for up to {max_age} seconds ({retries} attempts) and then parked in a "
            "dead-letter queue instead of being dropped.",
            "The schedule is evaluated in UTC." if "schedule" in body else
            "The pattern filters on the event fields, so the target only sees the events it handles.",
            f"The archive keeps {archive_days} days of bus events so they can be replayed after a consumer bug."
            if custom_bus else "",
        ])
        drafts.append(Draft(instruction, code, text.strip(), ""))
    return drafts


BACKUP_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@vars@@kms@
resource "aws_backup_vault" "this" {
  name        = "@name@"
  kms_key_arn = aws_kms_key.backup.arn
}
@lock@
resource "aws_backup_plan" "this" {
  name = "@name@"

  rule {
    rule_name                = "daily"
    target_vault_name        = aws_backup_vault.this.name
    schedule                 = "cron(0 @hour@ * * ? *)"
    start_window             = 60
    completion_window        = @completion@
    enable_continuous_backup = @continuous@

    lifecycle {@cold@
      delete_after = @daily_keep@
    }
@copy@  }
@monthly@}

resource "aws_iam_role" "backup" {
  name = "@name@-backup"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "backup.amazonaws.com" }
        Action    = "sts:AssumeRole"
      }
    ]
  })
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
  ])

  role       = aws_iam_role.backup.name
  policy_arn = each.value
}

resource "aws_backup_selection" "this" {
  name         = "@selection_name@"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.backup.arn
@selection@
}
"""

BACKUP_MONTHLY = """
  rule {
    rule_name         = "monthly"
    target_vault_name = aws_backup_vault.this.name
    schedule          = "cron(0 @hour@ 1 * ? *)"

    lifecycle {
      cold_storage_after = 30
      delete_after       = @monthly_keep@
    }
  }
"""


def backup_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Set up AWS Backup for the {env} {app} workloads in {region}.",
        "Write Terraform for a backup plan ({name}) that protects {scope_words}.",
        "I need daily backups of {scope_words} for {app} with AWS Backup, region {region}.",
        "Create an AWS Backup vault and plan for {app} ({env}) covering {scope_words}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        name = f"{app}-{env}"
        hour = rng.choice([1, 2, 3, 4, 5, 22, 23])
        continuous = i % 3 == 0
        daily_keep = rng.choice([7, 14, 21, 35]) if continuous else rng.choice([14, 30, 35, 90, 120])
        cold = 0 if continuous or daily_keep < 120 else 30
        monthly = rng.random() < 0.5
        monthly_keep = rng.choice([365, 400, 730])
        lock = env == "prod" and rng.random() < 0.7
        copy = rng.random() < 0.4 and not (monthly and lock)
        by_tag = i % 2 == 0
        tag_value = rng.choice(["daily", "gold", "standard", "true"])
        vars_ = "" if by_tag else var_block("resource_arns", "ARNs of the databases, volumes and tables to back up.",
                                            "list(string)")
        if copy:
            vars_ += var_block("dr_vault_arn", "Vault in the disaster-recovery Region or account.")
        selection = ("\n  selection_tag {\n    type  = \"STRINGEQUALS\"\n    key   = \"Backup\"\n"
                     f"    value = \"{tag_value}\"\n  }}" if by_tag else "  resources = var.resource_arns")
        max_keep = max(daily_keep, monthly_keep if monthly else 0)
        code = render(
            BACKUP_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            kms=kms_key("backup", f"AWS Backup vault {name}", f"backup-{name}"), name=name, hour=hour,
            completion=rng.choice([180, 360, 480]), continuous=str(continuous).lower(), daily_keep=daily_keep,
            cold=f"\n      cold_storage_after = {cold}" if cold else "",
            copy=("\n    copy_action {\n      destination_vault_arn = var.dr_vault_arn\n\n      lifecycle {\n"
                  f"        delete_after = {daily_keep}\n      }}\n    }}\n" if copy else ""),
            monthly=BACKUP_MONTHLY.replace("@hour@", str(hour)).replace("@monthly_keep@", str(monthly_keep))
            if monthly else "",
            lock=("\n# Compliance mode: after the 3-day grace period nobody, root included, can shorten retention\n"
                  "# or delete recovery points early.\n"
                  "resource \"aws_backup_vault_lock_configuration\" \"this\" {\n"
                  "  backup_vault_name   = aws_backup_vault.this.name\n  min_retention_days  = 7\n"
                  f"  max_retention_days  = {max_keep}\n  changeable_for_days = 3\n}}\n" if lock else ""),
            selection_name=f"{'tag-' + tag_value if by_tag else 'listed-resources'}", selection=selection)
        scope_words = ("every resource tagged Backup=" + tag_value) if by_tag else "a list of resource ARNs"
        clauses = [
            ("encrypt the vault with a customer-managed KMS key", "use our own KMS key for the vault"),
            ("take a daily backup at {hour}:00 UTC and keep it {daily_keep} days",
             "back up daily at {hour}:00 UTC with {daily_keep}-day retention"),
            ("select {scope_words}", "cover {scope_words}"),
            ("use a dedicated IAM role with the AWS managed backup and restore policies",
             "give AWS Backup its own service role"),
        ]
        if continuous:
            clauses.append("enable continuous backup for point-in-time restore")
        if cold:
            clauses.append("move daily recovery points to cold storage after {cold} days")
        if monthly:
            clauses.append("add a monthly backup kept for {monthly_keep} days")
        if lock:
            clauses.append("lock the vault in compliance mode")
        if copy:
            clauses.append("copy each daily recovery point to a disaster-recovery vault")
        fields = dict(env=env, app=app, region=region, name=name, scope_words=scope_words, hour=hour,
                      daily_keep=daily_keep, cold=cold, monthly_keep=monthly_keep)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 4:
            inp = "\n".join([f"Backup policy for {app} ({env}, {region}):", f"- daily at {hour}:00 UTC, "
                             f"retain {daily_keep} days"] + ([f"- monthly, retain {monthly_keep} days"] if monthly
                                                            else []) +
                            [f"- scope: {scope_words}", "- vault encrypted with our own KMS key"]
                            + (["- copy to the DR vault"] if copy else []))
            instruction = "Implement this backup policy with AWS Backup in Terraform."
        text = prose(rng, [
            "Recovery points are encrypted with a customer-managed key in a dedicated vault, separate from the "
            "keys that protect the source data.",
            "Continuous backup gives point-in-time restore for supported services (RDS, S3, Aurora), which AWS "
            "caps at 35 days of retention." if continuous else
            f"Daily recovery points are kept {daily_keep} days" + (f" and move to cold storage after {cold} days."
                                                                   if cold else "."),
            "The compliance-mode vault lock protects recovery points from deletion even by an administrator, "
            "which is the defence against ransomware and insider mistakes." if lock else "",
            "Selecting by tag means new resources are protected as soon as they carry the tag." if by_tag else
            "Resources are listed explicitly, so nothing is backed up by accident.",
            "A copy goes to a disaster-recovery vault so one Region or account failure cannot take the backups "
            "with it." if copy else "",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, eventbridge_family(rng, 9) + backup_family(rng, 8))
