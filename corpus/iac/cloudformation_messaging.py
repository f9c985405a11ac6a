"""CloudFormation examples for messaging: SQS queues with dead-letter queues and SNS topics with subscriptions."""

from __future__ import annotations

import random
from typing import Any

from .cloudformation import (
    Draft,
    GetAtt,
    Ref,
    Sub,
    deny_insecure_transport,
    draft,
    finish,
    fmt_phrase,
    kms_key,
    output,
    param,
    service_key_grant,
    template,
)

_DAY = 86400


def named(parameter: str, suffix: str = "") -> Any:
    return Sub("${" + parameter + "}" + suffix) if suffix else Ref(parameter)


def queue(name: Any, retention_days: int, encryption: dict, **props: Any) -> dict:
    return {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": name, "MessageRetentionPeriod": retention_days * _DAY, **encryption, **props}}


def cmk_encryption(key: str = "Key") -> dict:
    # Reusing a data key for 5 minutes keeps KMS calls (and cost) low at high message rates.
    return {"KmsMasterKeyId": Ref(key), "KmsDataKeyReusePeriodSeconds": 300}


# --- SQS ------------------------------------------------------------------------------------------------------

_SQS = [
    {"name": "image-resize", "visibility": 120, "retention": 4, "receives": 5, "kms": "new", "fmt": "yaml",
     "job": "an image-resize worker"},
    {"name": "payment-events", "visibility": 60, "retention": 7, "receives": 3, "kms": "new", "fmt": "yaml",
     "fifo": True, "job": "payment events that must be processed in order per account"},
    {"name": "email-dispatch", "visibility": 60, "retention": 2, "receives": 10, "kms": "aws", "fmt": "json",
     "job": "outgoing e-mail jobs"},
    {"name": "invoice-pdf", "visibility": 900, "retention": 4, "receives": 4, "kms": "param", "fmt": "json",
     "job": "invoice PDF rendering done by a Lambda function with a 5-minute timeout"},
    {"name": "webhook-retries", "visibility": 45, "retention": 3, "receives": 8, "kms": "new", "fmt": "yaml",
     "delay": 30, "producer": True, "job": "webhook deliveries that should be retried after a short delay"},
    {"name": "report-jobs", "visibility": 300, "retention": 7, "receives": 2, "kms": "new", "fmt": "yaml",
     "consumer": True, "job": "report generation requests picked up by a single consumer role"},
]

_SQS_ASKS = [
    "Write a CloudFormation template{fmt} for an SQS queue for {job}, with a dead-letter queue. {reqs}.",
    "Create SQS queues in CloudFormation{fmt}: a main queue for {job} plus its DLQ. {reqs}.",
    "I need CloudFormation{fmt} for {job}: an SQS queue with redrive to a dead-letter queue. {reqs}.",
]


def _sqs_requirements(spec: dict) -> str:
    enc = {"new": "a new customer-managed KMS key", "param": "an existing KMS key passed as a parameter",
           "aws": "the AWS managed SQS key"}[spec["kms"]]
    reqs = [f"visibility timeout {spec['visibility']} s", f"keep messages {spec['retention']} days",
            f"move a message to the DLQ after {spec['receives']} failed receives", f"encrypt both queues with {enc}",
            "long polling", "reject non-TLS access"]
    if spec.get("fifo"):
        reqs.insert(0, "FIFO with content-based deduplication and per-group throughput")
    if spec.get("delay"):
        reqs.append(f"deliver new messages after a {spec['delay']}-second delay")
    if spec.get("producer"):
        reqs.append("only a given producer role may send")
    if spec.get("consumer"):
        reqs.append("only a given consumer role may receive and delete")
    text = ", ".join(reqs)
    return text[0].upper() + text[1:]


def _sqs_doc(spec: dict) -> dict:
    suffix = ".fifo" if spec.get("fifo") else ""
    params: dict[str, Any] = {"QueueName": param("Base name of the queue.", spec["name"],
                                                 AllowedPattern="^[A-Za-z0-9_-]{1,70}$")}
    resources: dict[str, Any] = {}
    if spec["kms"] == "new":
        resources["Key"] = kms_key(f"Encrypts the {spec['name']} queues")
        encryption = cmk_encryption()
    elif spec["kms"] == "param":
        params["KmsKeyId"] = param("ID or ARN of the KMS key for both queues.")
        encryption = cmk_encryption("KmsKeyId")
    else:
        encryption = {"KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": 300}
    fifo = {"FifoQueue": True} if suffix else {}
    resources["DeadLetterQueue"] = queue(Sub("${QueueName}-dlq" + suffix), 14, encryption, **fifo)
    main: dict[str, Any] = {**fifo}
    if suffix:
        main.update({"ContentBasedDeduplication": True, "DeduplicationScope": "messageGroup",
                     "FifoThroughputLimit": "perMessageGroupId"})
    main.update({"VisibilityTimeout": spec["visibility"], "ReceiveMessageWaitTimeSeconds": 20})
    if spec.get("delay"):
        main["DelaySeconds"] = spec["delay"]
    main["RedrivePolicy"] = {"deadLetterTargetArn": GetAtt("DeadLetterQueue", "Arn"),
                             "maxReceiveCount": spec["receives"]}
    resources["Queue"] = queue(named("QueueName", suffix), spec["retention"], encryption, **main)
    # Only the main queue may use the DLQ, so a misconfigured queue elsewhere cannot dump messages into it.
    resources["DeadLetterQueue"]["Properties"]["RedriveAllowPolicy"] = {
        "redrivePermission": "byQueue", "sourceQueueArns": [Sub("arn:${AWS::Partition}:sqs:${AWS::Region}:"
                                                                "${AWS::AccountId}:${QueueName}" + suffix)]}
    statements = [deny_insecure_transport("sqs:*", [GetAtt("Queue", "Arn"), GetAtt("DeadLetterQueue", "Arn")])]
    for role, actions in (("producer", ["sqs:SendMessage"]),
                          ("consumer", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                        "sqs:GetQueueAttributes"])):
        if spec.get(role):
            name = f"{role.capitalize()}RoleArn"
            params[name] = param(f"IAM role allowed to act as {role}.")
            statements.append({"Sid": f"Allow{role.capitalize()}", "Effect": "Allow",
                               "Principal": {"AWS": Ref(name)}, "Action": actions, "Resource": GetAtt("Queue", "Arn")})
    resources["QueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [Ref("Queue"), Ref("DeadLetterQueue")],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
    outputs = {"QueueUrl": output(Ref("Queue"), "Main queue URL."),
               "QueueArn": output(GetAtt("Queue", "Arn"), "Main queue ARN.", export="QueueArn"),
               "DeadLetterQueueUrl": output(Ref("DeadLetterQueue"), "Dead-letter queue URL.")}
    return template(f"Encrypted SQS queue with dead-letter queue for {spec['job']}.", params, resources, outputs)


def _sqs_prose(spec: dict) -> str:
    parts = [f"After {spec['receives']} failed receives a message moves to the dead-letter queue, which keeps it for "
             "the 14-day maximum so it can be inspected and redriven, and its redrive-allow policy accepts only "
             "this queue."]
    if spec["visibility"] >= 300:
        parts.append(f"The {spec['visibility']}-second visibility timeout stays well above the consumer's run time, "
                     "so a slow message is not handed to a second worker while the first is still busy.")
    elif spec.get("fifo"):
        parts.append("Content-based deduplication drops repeats within five minutes, and per-message-group "
                     "throughput keeps ordering per group while different groups scale out.")
    else:
        parts.append("Long polling (20 s) cuts empty receives and cost, and the visibility timeout matches how "
                     "long one message takes to process.")
    enc = {"new": "a dedicated rotating KMS key", "param": "your KMS key",
           "aws": "the AWS managed alias/aws/sqs key, so there is no key policy to maintain (switch to a "
                  "customer-managed key if SNS or EventBridge ever has to deliver to these queues)"}[spec["kms"]]
    parts.append(f"Both queues are encrypted with {enc}, and the queue policy denies any request not made over TLS.")
    return " ".join(parts)


def _sqs(rng: random.Random) -> list[Draft]:
    asks = _SQS_ASKS * 2
    rng.shuffle(asks)
    drafts = [draft(ask.format(fmt=fmt_phrase(spec["fmt"], rng), job=spec["job"], reqs=_sqs_requirements(spec)),
                    _sqs_doc(spec), spec["fmt"], _sqs_prose(spec)) for spec, ask in zip(_SQS, asks, strict=False)]
    fixed = {"name": "orders-processing", "visibility": 180, "retention": 4, "receives": 5, "kms": "new",
             "job": "order processing"}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"OrdersQueue": {
        "Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders-processing", "VisibilityTimeout": 180}}}}
    ask = rng.choice(["Add a dead-letter queue (5 attempts) and KMS encryption to this queue.",
                      "This queue loses poison messages and is unencrypted. Give it a DLQ after 5 receives and a CMK."])
    prose = "The visibility timeout stays at 180 seconds and the name becomes a parameter. " + _sqs_prose(fixed)
    drafts.append(draft(ask, _sqs_doc(fixed), "yaml", prose, given=given))
    return drafts


# --- SNS ------------------------------------------------------------------------------------------------------

_SNS = [
    {"topic": "ops-alerts", "sub": "email", "publishers": ["cloudwatch.amazonaws.com"], "fmt": "yaml",
     "about": "operational alerts from CloudWatch alarms, delivered by e-mail to the on-call address"},
    {"topic": "order-events", "sub": "sqs", "filter": ["OrderPlaced", "OrderCancelled"], "fmt": "yaml",
     "about": "order events fanned out to a fulfilment queue that only wants placed and cancelled orders"},
    {"topic": "build-notifications", "sub": "https", "publishers": ["codestar-notifications.amazonaws.com"],
     "fmt": "json", "about": "CI build notifications pushed to a chat webhook over HTTPS"},
    {"topic": "ledger-updates", "sub": "sqs", "fifo": True, "fmt": "yaml",
     "about": "ledger updates that must reach a FIFO queue in order and without duplicates"},
    {"topic": "security-findings", "sub": "lambda", "publishers": ["events.amazonaws.com"], "fmt": "yaml",
     "about": "security findings forwarded by EventBridge to an existing triage Lambda function"},
]

_SNS_ASKS = [
    "Write a CloudFormation template{fmt} for an SNS topic carrying {about}. Encrypt it with a customer-managed "
    "KMS key and only accept publishes over TLS.",
    "Create an encrypted SNS topic and subscription in CloudFormation{fmt} for {about}. Use a KMS CMK, a TLS-only "
    "topic policy and parameters for the names.",
    "CloudFormation{fmt}: SNS topic (KMS-encrypted, TLS enforced) plus subscription, for {about}.",
]


def _sns_doc(spec: dict) -> dict:
    suffix = ".fifo" if spec.get("fifo") else ""
    params: dict[str, Any] = {"TopicName": param("Base name of the topic.", spec["topic"],
                                                 AllowedPattern="^[A-Za-z0-9_-]{1,250}$")}
    publishers = list(spec.get("publishers", []))
    grants = []
    if spec["sub"] == "sqs":
        grants.append(service_key_grant("AllowSnsToEncryptedQueue", "sns.amazonaws.com",
                                        ["kms:Decrypt", "kms:GenerateDataKey*"],
                                        {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}))
    if publishers:
        grants.append(service_key_grant("AllowServicePublishers", publishers, ["kms:Decrypt", "kms:GenerateDataKey*"],
                                        {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}))
    resources: dict[str, Any] = {"Key": kms_key(f"Encrypts the {spec['topic']} topic", *grants)}
    topic: dict[str, Any] = {"TopicName": named("TopicName", suffix), "KmsMasterKeyId": Ref("Key")}
    if suffix:
        topic.update({"FifoTopic": True, "ContentBasedDeduplication": True})
    resources["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": topic}
    statements = [deny_insecure_transport("sns:Publish", Ref("Topic"))]
    if publishers:
        statements.append({"Sid": "AllowServicePublish", "Effect": "Allow", "Principal": {"Service": publishers},
                           "Action": "sns:Publish", "Resource": Ref("Topic"),
                           "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}})
    resources["TopicPolicy"] = {"Type": "AWS::SNS::TopicPolicy", "Properties": {
        "Topics": [Ref("Topic")], "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
    sub: dict[str, Any] = {"TopicArn": Ref("Topic")}
    if spec["sub"] == "email":
        params["AlertEmail"] = param("Address that receives the alerts.", AllowedPattern="^[^@\\s]+@[^@\\s]+$")
        sub.update({"Protocol": "email", "Endpoint": Ref("AlertEmail")})
    elif spec["sub"] == "https":
        params["WebhookUrl"] = param("HTTPS endpoint of the chat webhook.", AllowedPattern="^https://.+$",
                                     NoEcho=True)
        sub.update({"Protocol": "https", "Endpoint": Ref("WebhookUrl"), "DeliveryPolicy": {"healthyRetryPolicy": {
            "numRetries": 5, "minDelayTarget": 10, "maxDelayTarget": 60, "backoffFunction": "exponential"}}})
    elif spec["sub"] == "lambda":
        params["FunctionArn"] = param("ARN of the triage Lambda function.")
        sub.update({"Protocol": "lambda", "Endpoint": Ref("FunctionArn")})
        resources["InvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": Ref("FunctionArn"), "Principal": "sns.amazonaws.com",
            "SourceArn": Ref("Topic")}}
    else:
        fifo = {"FifoQueue": True, "ContentBasedDeduplication": True} if suffix else {}
        resources["Queue"] = queue(Sub("${TopicName}-consumer" + suffix), 4, cmk_encryption(), **fifo)
        resources["QueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [Ref("Queue")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowTopicDelivery", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                 "Action": "sqs:SendMessage", "Resource": GetAtt("Queue", "Arn"),
                 "Condition": {"ArnEquals": {"aws:SourceArn": Ref("Topic")}}},
                deny_insecure_transport("sqs:*", GetAtt("Queue", "Arn"))]}}}
        sub.update({"Protocol": "sqs", "Endpoint": GetAtt("Queue", "Arn"), "RawMessageDelivery": True})
        if spec.get("filter"):
            sub["FilterPolicy"] = {"eventType": spec["filter"]}
    resources["Subscription"] = {"Type": "AWS::SNS::Subscription", "Properties": sub}
    outputs = {"TopicArn": output(Ref("Topic"), "Topic ARN for publishers.", export="TopicArn")}
    label = {"email": "e-mail", "sqs": "SQS", "https": "HTTPS", "lambda": "Lambda"}[spec["sub"]]
    return template(f"Encrypted SNS topic {spec['topic']} and its {label} subscription.",
                    params, resources, outputs)


def _sns_prose(spec: dict) -> str:
    parts = ["The topic is encrypted with a dedicated rotating key, and the topic policy denies publishes that "
             "are not made over TLS."]
    if spec["sub"] == "sqs":
        parts.append("SNS needs kms:GenerateDataKey on the key to deliver into the encrypted queue, which is why a "
                     "customer-managed key is used: the AWS managed SQS key cannot grant that. The queue policy "
                     "accepts messages only from this topic.")
        if spec.get("fifo"):
            parts.append("FIFO on both ends preserves per-group order and deduplication end to end.")
        else:
            parts.append("Raw delivery skips the SNS envelope and the filter policy drops other event types "
                         "before they reach the queue.")
    elif spec["sub"] == "email":
        parts.append("CloudWatch is allowed to publish, and to use the key, only for alarms in this account; the "
                     "e-mail subscription stays pending until the recipient confirms it.")
    elif spec["sub"] == "https":
        parts.append("The webhook URL is a NoEcho parameter because it usually embeds a token, and the delivery "
                     "policy retries with exponential backoff when the endpoint is unavailable.")
    else:
        parts.append("EventBridge may publish and use the key for this account only, and the Lambda permission "
                     "lets only this topic invoke the triage function.")
    return " ".join(parts)


def _sns(rng: random.Random) -> list[Draft]:
    asks = _SNS_ASKS * 2
    rng.shuffle(asks)
    drafts = [draft(ask.format(fmt=fmt_phrase(spec["fmt"], rng), about=spec["about"]), _sns_doc(spec), spec["fmt"],
                    _sns_prose(spec)) for spec, ask in zip(_SNS, asks, strict=False)]
    fixed = {"topic": "billing-alarms", "sub": "email", "publishers": ["cloudwatch.amazonaws.com"]}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "BillingTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "billing-alarms"}},
        "FinanceEmail": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": Ref("BillingTopic"), "Protocol": "email", "Endpoint": "finance@example.com"}}}}
    ask = ("Encrypt this topic with our own KMS key, enforce TLS for publishers, and make sure our billing alarms "
           "can still publish to it. Move the e-mail address into a parameter.")
    prose = ("Encrypting the topic with a customer-managed key means CloudWatch must be granted the key explicitly, "
             "otherwise alarm notifications fail silently. " + _sns_prose(fixed))
    drafts.append(draft(ask, _sns_doc(fixed), "yaml", prose, given=given))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _sqs(rng) + _sns(rng))
