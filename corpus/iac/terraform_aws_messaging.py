"""Terraform for AWS: SQS queues with dead-letter queues and encrypted SNS topics."""

from __future__ import annotations

import random

from .terraform_aws import (
    APPS,
    ENVS,
    REGIONS,
    SAME_ACCOUNT,
    Draft,
    compose,
    finalize,
    header,
    kms_key,
    prose,
    render,
    service_key_statement,
    statements,
    std_tags,
    var_block,
)

QUEUE_PURPOSES = ["order-events", "email-jobs", "image-resize", "invoice-export", "webhook-deliveries",
                  "audit-ingest", "search-reindex", "payment-callbacks", "report-requests", "sync-tasks"]

SQS_TEMPLATE = """
@header@
@caller@@vars@@kms@
resource "aws_sqs_queue" "dlq" {
  name                      = "@name@-dlq@suffix@"@fifo@
  message_retention_seconds = 1209600
@enc@
}

resource "aws_sqs_queue" "main" {
  name                       = "@name@@suffix@"@fifo@@dedup@
  visibility_timeout_seconds = @visibility@
  message_retention_seconds  = @retention@
  receive_wait_time_seconds  = 20
@enc@

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = @max_receive@
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}
@alarm@
output "queue_url" {
  value = aws_sqs_queue.main.id
}

output "dead_letter_queue_arn" {
  value = aws_sqs_queue.dlq.arn
}
"""

DLQ_ALARM = """
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "@name@-dlq-not-empty"
  alarm_description   = "Messages are failing processing and landing in the dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
}
"""


def sqs_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an SQS queue named {name} in {region} with a dead-letter queue.",
        "I need a work queue for {purpose_words} in the {env} {app} system, with a DLQ.",
        "Write Terraform for the {name} SQS queue ({region}) plus its dead-letter queue.",
        "Set up SQS for {app}: a main queue and DLQ for {purpose_words}, environment {env}.",
    ]
    drafts = []
    apps, purposes = rng.sample(APPS, n), rng.sample(QUEUE_PURPOSES, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        purpose = purposes[i]
        name = f"{app}-{env}-{purpose}"
        fifo = i % 4 == 1
        enc_mode = ["sse-sqs", "own-cmk", "var-cmk"][i % 3]
        visibility = rng.choice([30, 60, 120, 300, 900])
        retention_days = rng.choice([4, 7, 10])
        max_receive = rng.choice([3, 5, 8, 10])
        alarm = enc_mode != "own-cmk" and rng.random() < 0.6
        vars_ = var_block("kms_key_arn", "Customer-managed KMS key for both queues.") if enc_mode == "var-cmk" else ""
        if alarm:
            vars_ += var_block("alarm_topic_arn", "SNS topic notified when the DLQ has messages.")
        key_ref = {"own-cmk": "aws_kms_key.queue.arn", "var-cmk": "var.kms_key_arn"}.get(enc_mode, "")
        enc = ("  sqs_managed_sse_enabled   = true" if enc_mode == "sse-sqs" else
               f"  kms_master_key_id                 = {key_ref}\n  kms_data_key_reuse_period_seconds = 300")
        code = render(
            SQS_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            caller='data "aws_caller_identity" "current" {}\n' if enc_mode == "own-cmk" else "",
            kms=kms_key("queue", f"SQS queues {name}", f"sqs-{name}") if enc_mode == "own-cmk" else "",
            name=name, suffix=".fifo" if fifo else "", fifo="\n  fifo_queue                = true" if fifo else "",
            dedup="\n  content_based_deduplication = true" if fifo else "", enc=enc, visibility=visibility,
            retention=retention_days * 86400, max_receive=max_receive,
            alarm=DLQ_ALARM.replace("@name@", name) if alarm else "")
        enc_words = {"sse-sqs": "SQS-managed server-side encryption (SSE-SQS)",
                     "own-cmk": "a new customer-managed KMS key",
                     "var-cmk": "an existing customer-managed KMS key passed in as a variable"}[enc_mode]
        clauses = [
            ("encrypt both queues with {enc_words}", "use {enc_words} on both queues"),
            ("set the visibility timeout to {visibility} seconds", "visibility timeout: {visibility}s"),
            ("keep messages for {retention_days} days", "retain unprocessed messages {retention_days} days"),
            ("move a message to the DLQ after {max_receive} failed receives",
             "give up on a message after {max_receive} attempts"),
            ("only allow the main queue to redrive into the DLQ", "restrict which queues may use the DLQ"),
            ("use long polling", "enable 20-second long polling"),
        ]
        if fifo:
            clauses.append("make both queues FIFO with content-based deduplication")
        if alarm:
            clauses.append("alarm to an SNS topic as soon as the DLQ is not empty")
        fields = dict(name=name + (".fifo" if fifo else ""), region=region, env=env, app=app, enc_words=enc_words,
                      purpose_words=purpose.replace("-", " "), visibility=visibility, retention_days=retention_days,
                      max_receive=max_receive)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 7:
            inp = (f'resource "aws_sqs_queue" "main" {{\n  name                       = "{name}"\n'
                   f"  visibility_timeout_seconds = {visibility}\n}}\n")
            instruction = (f"Messages that keep failing on this queue retry forever. Add a dead-letter queue "
                           f"(give up after {max_receive} receives), encryption with {enc_words}, and long polling.")
        text = prose(rng, [
            f"Messages that fail {max_receive} times move to the dead-letter queue instead of cycling forever, and "
            "the redrive-allow policy lets only this queue use that DLQ.",
            f"Both queues are encrypted at rest with {enc_words}.",
            "The DLQ keeps messages for the 14-day maximum, leaving time to inspect and redrive failures." if fifo
            else "The DLQ keeps messages for the 14-day maximum: a standard-queue message keeps its original "
            "enqueue time when it is moved, so a shorter DLQ retention could drop it almost at once.",
            f"Set the {visibility}-second visibility timeout above the consumer's worst-case processing time (six "
            "times a Lambda timeout) or messages will be delivered twice.",
            "A 20-second receive wait enables long polling, which cuts empty receives and cost.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


PUBLISHERS = [
    # (label, service principal, wording)
    ("alarms", "cloudwatch.amazonaws.com", "CloudWatch alarms"),
    ("events", "events.amazonaws.com", "EventBridge rules"),
    ("s3", "s3.amazonaws.com", "S3 event notifications"),
    ("budgets", "budgets.amazonaws.com", "AWS Budgets alerts"),
    ("backup", "backup.amazonaws.com", "AWS Backup job notifications"),
    ("codestar", "codestar-notifications.amazonaws.com", "CodePipeline notifications"),
]

SUBSCRIBERS = {
    "email": ("alert_emails", "Addresses that receive notifications; each must confirm.", "list(string)", """
resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}
""", "email every address in a list variable"),
    "sqs": ("subscriber_queue_arn", "SQS queue that consumes the topic.", "string", """
resource "aws_sns_topic_subscription" "queue" {
  topic_arn            = aws_sns_topic.this.arn
  protocol             = "sqs"
  endpoint             = var.subscriber_queue_arn
  raw_message_delivery = true
}
""", "fan out to an existing SQS queue with raw message delivery"),
    "https": ("webhook_url", "HTTPS endpoint of the on-call tool.", "string", """
resource "aws_sns_topic_subscription" "webhook" {
  topic_arn              = aws_sns_topic.this.arn
  protocol               = "https"
  endpoint               = var.webhook_url
  endpoint_auto_confirms = true
}
""", "deliver to an on-call HTTPS webhook"),
}

SNS_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@vars@@kms@
resource "aws_sns_topic" "this" {
  name              = "@topic@"
  kms_master_key_id = aws_kms_key.sns.id
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
@statements@
    ]
  })
}
@subscription@
output "topic_arn" {
  value = aws_sns_topic.this.arn
}
"""


def sns_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an encrypted SNS topic {topic} in {region} that receives {pub_words}.",
        "Terraform for the {env} {app} notification topic: {pub_words} publish to it.",
        "I need an SNS topic for {pub_words} ({app}, {region}); call it {topic}.",
        "Write Terraform so {pub_words} for {app} land on an encrypted SNS topic.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    sub_keys = list(SUBSCRIBERS)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        label, principal, pub_words = PUBLISHERS[i % len(PUBLISHERS)]
        topic = f"{app}-{env}-{rng.choice(['alerts', 'notifications', 'ops-events', 'alarms'])}"
        sub = sub_keys[(i + rng.randrange(2)) % len(sub_keys)]
        var_name, var_desc, var_type, sub_block, sub_words = SUBSCRIBERS[sub]
        window = rng.choice([7, 14, 30])
        # The AWS-managed alias/aws/sns key cannot be shared with other services, so publishers need a CMK.
        key_use = service_key_statement(f"Allow{label.title()}ToUseKey", principal)
        publish = {"Sid": '"AllowServicePublish"', "Effect": '"Allow"', "Principal": f'{{ Service = "{principal}" }}',
                   "Action": '"sns:Publish"', "Resource": "aws_sns_topic.this.arn", "Condition": SAME_ACCOUNT}
        deny_tls = {"Sid": '"DenyInsecureTransport"', "Effect": '"Deny"', "Principal": '"*"', "Action": '"sns:Publish"',
                    "Resource": "aws_sns_topic.this.arn",
                    "Condition": '{ Bool = { "aws:SecureTransport" = "false" } }'}
        stmts = [publish, deny_tls] if rng.random() < 0.6 else [publish]
        code = render(
            SNS_TEMPLATE, header=header(region, std_tags(rng, app, env)),
            vars=var_block(var_name, var_desc, var_type),
            kms=kms_key("sns", f"SNS topic {topic}", f"sns-{topic}", window, [key_use]), topic=topic,
            statements=statements(stmts), subscription=sub_block)
        clauses = [
            ("encrypt it with a customer-managed KMS key that {pub_words} are allowed to use",
             "use a CMK for the topic (the AWS-managed SNS key will not work for {principal})"),
            ("let only {principal} from this account publish", "restrict publishing to {principal} in our account",
             "no other principal or account may publish"),
            "{sub_words}",
        ]
        if len(stmts) == 2:
            clauses.append(("reject publishes that do not use TLS", "deny publishing over plain HTTP"))
        if rng.random() < 0.5:
            clauses.append("set the key's deletion window to {window} days")
        fields = dict(topic=topic, region=region, pub_words=pub_words, env=env, app=app, principal=principal,
                      sub_words=sub_words, window=window)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 4:
            inp = (f'resource "aws_sns_topic" "this" {{\n  name = "{topic}"\n}}\n\n'
                   f'resource "aws_sns_topic_policy" "this" {{\n  arn    = aws_sns_topic.this.arn\n'
                   '  policy = jsonencode({\n    Version = "2012-10-17"\n    Statement = [{\n'
                   '      Effect    = "Allow"\n      Principal = "*"\n      Action    = "sns:Publish"\n'
                   '      Resource  = aws_sns_topic.this.arn\n    }]\n  })\n}\n')
            instruction = (f"Anyone can publish to this topic and it is not encrypted. {pub_words} must keep "
                           f"working; fix the rest and {sub_words}.")
        text = prose(rng, [
            "The topic uses a customer-managed key because the AWS-managed alias/aws/sns key's policy cannot be "
            f"changed, so {pub_words} could not publish to a topic encrypted with it.",
            f"The key policy and the topic policy both name {principal} and require the source account to be this "
            "one, which blocks confused-deputy publishes from other accounts.",
            {"email": "Email subscriptions stay pending until each recipient confirms.",
             "sqs": "Raw message delivery hands the queue the original payload without the SNS envelope; the "
                    "queue's own policy and key must also allow SNS.",
             "https": "The webhook must answer the subscription confirmation before deliveries start."}[sub],
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, sqs_family(rng, 9) + sns_family(rng, 9))
