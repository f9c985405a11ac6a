"""CloudFormation examples for event routing and monitoring: EventBridge rules and CloudWatch alarms."""

from __future__ import annotations

import json
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
from .cloudformation_messaging import cmk_encryption, queue

_SOURCE_ACCOUNT = {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}


def _events_key(what: str) -> dict:
    # EventBridge must be able to use the key, or deliveries to the encrypted target fail.
    return kms_key(f"Encrypts {what}", service_key_grant("AllowEventBridge", "events.amazonaws.com",
                                                        ["kms:Decrypt", "kms:GenerateDataKey*"], _SOURCE_ACCOUNT))


def _queue_target(resources: dict, name: Any, rule: str = "Rule") -> dict:
    resources["Queue"] = queue(name, 4, cmk_encryption(), ReceiveMessageWaitTimeSeconds=20)
    resources["QueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
        "Queues": [Ref("Queue")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowRuleDelivery", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": GetAtt("Queue", "Arn"),
             "Condition": {"ArnEquals": {"aws:SourceArn": GetAtt(rule, "Arn")}}},
            deny_insecure_transport("sqs:*", GetAtt("Queue", "Arn"))]}}}
    return {"Id": "queue", "Arn": GetAtt("Queue", "Arn")}


def _lambda_target(resources: dict, dlq: bool, event_input: str | None = None) -> dict:
    resources["InvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": Ref("FunctionArn"), "Principal": "events.amazonaws.com",
        "SourceArn": GetAtt("Rule", "Arn")}}
    target: dict[str, Any] = {"Id": "function", "Arn": Ref("FunctionArn")}
    if event_input:
        target["Input"] = event_input
    target["RetryPolicy"] = {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
    if dlq:
        resources["DeadLetterQueue"] = queue(Sub("${RuleName}-dlq"), 14, cmk_encryption())
        resources["DeadLetterQueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [Ref("DeadLetterQueue")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowRuleDeadLetters", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                 "Action": "sqs:SendMessage", "Resource": GetAtt("DeadLetterQueue", "Arn"),
                 "Condition": {"ArnEquals": {"aws:SourceArn": GetAtt("Rule", "Arn")}}}]}}}
        target["DeadLetterConfig"] = {"Arn": GetAtt("DeadLetterQueue", "Arn")}
    return target


def _rule(description: str, trigger: dict, targets: list[dict], bus: Any = None) -> dict:
    props: dict[str, Any] = {"Name": Ref("RuleName"), "Description": description}
    if bus is not None:
        props["EventBusName"] = bus
    props.update(trigger)
    props.update({"State": "ENABLED", "Targets": targets})
    return {"Type": "AWS::Events::Rule", "Properties": props}


def _rule_name(default: str) -> dict:
    return {"RuleName": param("Name of the EventBridge rule.", default, AllowedPattern="^[A-Za-z0-9._-]{1,64}$")}


def _eb_schedule(rng: random.Random) -> Draft:
    params = _rule_name("nightly-cleanup") | {"FunctionArn": param("ARN of the cleanup Lambda function.")}
    resources: dict[str, Any] = {"Key": _events_key("the rule's dead-letter queue")}
    target = _lambda_target(resources, dlq=True)
    resources["Rule"] = _rule("Runs the cleanup job every night at 03:00 UTC",
                              {"ScheduleExpression": "cron(0 3 * * ? *)"}, [target])
    outputs = {"RuleArn": output(GetAtt("Rule", "Arn"), "Rule ARN."),
               "DeadLetterQueueUrl": output(Ref("DeadLetterQueue"), "Failed invocations end up here.")}
    doc = template("Nightly EventBridge schedule for the cleanup Lambda with a dead-letter queue.",
                   params, resources, outputs)
    ask = rng.choice([
        "Write CloudFormation that invokes an existing Lambda function every night at 03:00 UTC with an EventBridge "
        "rule. Retry up to 4 times within an hour and send events that still fail to an encrypted SQS DLQ.",
        "Schedule an existing cleanup Lambda nightly at 3 AM UTC using an EventBridge rule in CloudFormation; add a "
        "retry policy (4 attempts, 1 hour max age) and a KMS-encrypted dead-letter queue.",
    ])
    prose = ("EventBridge invokes the function asynchronously, so the retry policy bounds how long it keeps trying, "
             "and events it gives up on land in the dead-letter queue instead of vanishing. The queue's key and "
             "policy allow only EventBridge from this account and this rule, and the Lambda permission is scoped to "
             "the rule ARN.")
    return draft(ask, doc, "yaml", prose)


def _eb_s3_to_queue(rng: random.Random) -> Draft:
    params = _rule_name("incoming-files") | {
        "BucketName": param("Bucket with EventBridge notifications enabled."),
        "KeyPrefix": param("Only objects under this prefix trigger the rule.", "incoming/")}
    resources: dict[str, Any] = {"Key": _events_key("the ingest queue")}
    target = _queue_target(resources, Sub("${RuleName}-queue"))
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": [Ref("BucketName")]}, "object": {"key": [{"prefix": Ref("KeyPrefix")}]}}}
    resources["Rule"] = _rule("Queues new objects under the ingest prefix", {"EventPattern": pattern}, [target])
    outputs = {"QueueUrl": output(Ref("Queue"), "Queue that receives object-created events.")}
    doc = template("Routes S3 object-created events for one prefix to an encrypted SQS queue.",
                   params, resources, outputs)
    ask = ("Use CloudFormation to send S3 Object Created events from a given bucket, only for keys under incoming/ "
           "(configurable), through an EventBridge rule into a new KMS-encrypted SQS queue.")
    prose = ("The pattern matches the bucket and key prefix in EventBridge, so the consumer never sees other "
             "uploads; the bucket must have EventBridge notifications turned on. The queue is encrypted with a key "
             "that EventBridge may use, and its policy accepts messages only from this rule over TLS.")
    return draft(ask, doc, "yaml", prose)


def _eb_guardduty(rng: random.Random) -> Draft:
    params = _rule_name("guardduty-high") | {
        "MinimumSeverity": param("Lowest GuardDuty severity that alerts.", 7, type_="Number", MinValue=1, MaxValue=10),
        "SecurityEmail": param("Security team address.", AllowedPattern="^[^@\\s]+@[^@\\s]+$")}
    resources: dict[str, Any] = {
        "Key": _events_key("the security alerts topic"),
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": Sub("${RuleName}-alerts"),
                                                           "KmsMasterKeyId": Ref("Key")}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [Ref("Topic")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowEventBridge", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                 "Action": "sns:Publish", "Resource": Ref("Topic"),
                 "Condition": {"ArnEquals": {"aws:SourceArn": GetAtt("Rule", "Arn")}}},
                deny_insecure_transport("sns:Publish", Ref("Topic"))]}}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": Ref("Topic"), "Protocol": "email", "Endpoint": Ref("SecurityEmail")}},
    }
    pattern = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
               "detail": {"severity": [{"numeric": [">=", Ref("MinimumSeverity")]}]}}
    resources["Rule"] = _rule("Forwards high-severity GuardDuty findings", {"EventPattern": pattern},
                              [{"Id": "security-topic", "Arn": Ref("Topic")}])
    doc = template("E-mails high-severity GuardDuty findings through an encrypted SNS topic.", params, resources,
                   {"TopicArn": output(Ref("Topic"), "Subscribe more endpoints here.")})
    ask = ("I want the security team e-mailed about GuardDuty findings with severity 7 or higher. Write the "
           "CloudFormation: EventBridge rule, KMS-encrypted SNS topic and the e-mail subscription.")
    prose = ("A numeric match on detail.severity filters out low and medium findings in EventBridge, and the "
             "threshold is a parameter so it can be tuned without editing the pattern. The topic key and topic "
             "policy allow EventBridge to publish only from this rule, and publishes over plain HTTP are denied.")
    return draft(ask, doc, "yaml", prose)


def _eb_pipeline(rng: random.Random) -> Draft:
    params = _rule_name("pipeline-failed") | {
        "PipelineName": param("CodePipeline to watch."),
        "NotificationTopicArn": param("Existing SNS topic that accepts EventBridge publishes.")}
    pattern = {"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
               "detail": {"state": ["FAILED"], "pipeline": [Ref("PipelineName")]}}
    target = {"Id": "notify", "Arn": Ref("NotificationTopicArn"), "InputTransformer": {
        "InputPathsMap": {"pipeline": "$.detail.pipeline", "execution": "$.detail.execution-id"},
        "InputTemplate": '"Pipeline <pipeline> failed (execution <execution>)."'}}
    resources = {"Rule": _rule("Notifies when the pipeline fails", {"EventPattern": pattern}, [target])}
    doc = template("Notifies an SNS topic when a CodePipeline execution fails.", params, resources,
                   {"RuleArn": output(GetAtt("Rule", "Arn"), "Rule ARN.")})
    ask = (f"Write CloudFormation{fmt_phrase('json', rng)} for an EventBridge rule that posts a one-line message to an "
           "existing SNS topic whenever a given CodePipeline pipeline fails; include the execution ID in the text.")
    prose = ("An input transformer turns the large state-change event into a short sentence with the pipeline name "
             "and execution ID, which reads well in e-mail or chat. The existing topic's policy (and its KMS key, if "
             "it is encrypted) must allow events.amazonaws.com to publish.")
    return draft(ask, doc, "json", prose)


def _eb_probe(rng: random.Random) -> Draft:
    url = rng.choice(["https://status.example.com/health", "https://api.example.com/ping"])
    params = _rule_name("synthetic-probe") | {"FunctionArn": param("ARN of the probe Lambda function.")}
    resources: dict[str, Any] = {}
    target = _lambda_target(resources, dlq=False, event_input=json.dumps({"url": url, "timeoutSeconds": 5}))
    resources["Rule"] = _rule("Runs the synthetic probe every 5 minutes", {"ScheduleExpression": "rate(5 minutes)"},
                              [target])
    doc = template("Invokes a probe Lambda every five minutes with a fixed payload.", params, resources,
                   {"RuleArn": output(GetAtt("Rule", "Arn"), "Rule ARN.")})
    ask = (f"CloudFormation for a rate(5 minutes) EventBridge rule that calls an existing probe function with the "
           f"constant payload {{\"url\": \"{url}\", \"timeoutSeconds\": 5}}, including the invoke permission.")
    prose = ("The constant Input replaces the scheduled event, so the function receives exactly the probe "
             "settings. The permission lets only this rule invoke the function, and the retry policy drops a probe "
             "after an hour because a stale health check has no value.")
    return draft(ask, doc, "yaml", prose)


def _eb_custom_bus(rng: random.Random) -> Draft:
    params = _rule_name("large-orders") | {
        "BusName": param("Name of the custom event bus.", "orders"),
        "MinimumAmount": param("Smallest order amount to route.", 1000, type_="Number", MinValue=0)}
    resources: dict[str, Any] = {
        "Key": _events_key("the large-orders queue"),
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": Ref("BusName")}},
        "Archive": {"Type": "AWS::Events::Archive", "Properties": {
            "SourceArn": GetAtt("Bus", "Arn"), "RetentionDays": 30, "Description": "Replayable copy of all events"}},
    }
    target = _queue_target(resources, Sub("${RuleName}-queue"))
    pattern = {"source": ["com.example.orders"], "detail-type": ["OrderPlaced"],
               "detail": {"amount": [{"numeric": [">=", Ref("MinimumAmount")]}]}}
    resources["Rule"] = _rule("Routes large orders to the review queue", {"EventPattern": pattern}, [target],
                              bus=Ref("Bus"))
    outputs = {"BusArn": output(GetAtt("Bus", "Arn"), "Publish order events here.", export="OrdersBusArn"),
               "QueueUrl": output(Ref("Queue"), "Review queue URL.")}
    doc = template("Custom orders event bus with a 30-day archive and a rule for large orders.",
                   params, resources, outputs)
    ask = ("Create a custom EventBridge bus called orders with a 30-day archive, and a rule on it that sends "
           "OrderPlaced events from com.example.orders with amount >= 1000 to an encrypted review queue.")
    prose = ("A dedicated bus keeps application events apart from AWS service events, and the archive lets you "
             "replay the last 30 days after a consumer bug. The numeric filter sends only large orders to the "
             "queue, whose key and policy accept deliveries only from this rule.")
    return draft(ask, doc, "yaml", prose)


# --- CloudWatch alarms ----------------------------------------------------------------------------------------


def _alarm(name: Any, description: str, metric: dict, threshold: Any, comparison: str, periods: int,
           datapoints: int, actions: Any) -> dict:
    props = {"AlarmName": name, "AlarmDescription": description, **metric, "EvaluationPeriods": periods,
             "DatapointsToAlarm": datapoints, "Threshold": threshold, "ComparisonOperator": comparison,
             "TreatMissingData": "notBreaching", "AlarmActions": [actions], "OKActions": [actions]}
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _metric(namespace: str, name: str, dimension: str, value: Any, stat: str, period: int) -> dict:
    stat_key = "ExtendedStatistic" if stat.startswith("p") else "Statistic"
    return {"Namespace": namespace, "MetricName": name, "Dimensions": [{"Name": dimension, "Value": value}],
            stat_key: stat, "Period": period}


_TOPIC_PARAM = {"AlarmTopicArn": param("SNS topic that receives alarm and OK notifications.")}


def _alarm_dlq(rng: random.Random) -> Draft:
    params = {"QueueName": param("Dead-letter queue to watch.")} | _TOPIC_PARAM
    resources = {"DeadLetterAlarm": _alarm(
        Sub("${QueueName}-not-empty"), "Messages are waiting in the dead-letter queue",
        _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", Ref("QueueName"), "Maximum", 60),
        0, "GreaterThanThreshold", 1, 1, Ref("AlarmTopicArn"))}
    doc = template("Alarm when a dead-letter queue receives messages.", params, resources,
                   {"AlarmArn": output(GetAtt("DeadLetterAlarm", "Arn"), "Alarm ARN.")})
    ask = (f"Give me a CloudFormation template{fmt_phrase('json', rng)} with a CloudWatch alarm that fires as soon "
           "as any message is visible in a dead-letter queue and notifies an existing SNS topic, also on recovery.")
    prose = ("Any message in a DLQ means something failed repeatedly, so the threshold is zero with a one-minute "
             "period. Missing data counts as not breaching because an idle queue publishes no datapoints, and the "
             "OK action tells on-call when the queue has been drained.")
    return draft(ask, doc, "json", prose)


def _alarm_lambda_errors(rng: random.Random) -> Draft:
    threshold = rng.choice([3, 5])
    params = {"FunctionName": param("Lambda function to watch."),
              "OnCallEmail": param("Address that receives alarms.", AllowedPattern="^[^@\\s]+@[^@\\s]+$")}
    resources: dict[str, Any] = {
        "Key": kms_key("Encrypts the alarm topic", service_key_grant(
            "AllowCloudWatchAlarms", "cloudwatch.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey*"],
            _SOURCE_ACCOUNT)),
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": Ref("Key")}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [Ref("Topic")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow",
                 "Principal": {"Service": "cloudwatch.amazonaws.com"},
                 "Action": "sns:Publish", "Resource": Ref("Topic"), "Condition": _SOURCE_ACCOUNT},
                deny_insecure_transport("sns:Publish", Ref("Topic"))]}}},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": Ref("Topic"), "Protocol": "email", "Endpoint": Ref("OnCallEmail")}},
        "ErrorsAlarm": _alarm(Sub("${FunctionName}-errors"), f"{threshold} or more invocation errors in 5 minutes",
                              _metric("AWS/Lambda", "Errors", "FunctionName", Ref("FunctionName"), "Sum", 300),
                              threshold, "GreaterThanOrEqualToThreshold", 1, 1, Ref("Topic")),
    }
    doc = template("Lambda error alarm with an encrypted SNS topic and e-mail subscription.", params, resources,
                   {"TopicArn": output(Ref("Topic"), "Alarm topic ARN.")})
    ask = (f"Write CloudFormation that e-mails on-call when a Lambda function has {threshold} or more errors within "
           "5 minutes. Create the SNS topic too, encrypted with a KMS key.")
    prose = ("The topic is encrypted with a customer-managed key whose policy lets CloudWatch generate data keys; "
             "with the AWS managed SNS key, alarm notifications would be dropped. The topic policy allows only "
             "CloudWatch in this account to publish and denies non-TLS publishes.")
    return draft(ask, doc, "yaml", prose)


def _alarm_error_rate(rng: random.Random) -> Draft:
    params = {"FunctionName": param("Lambda function to watch."),
              "ErrorRatePercent": param("Error rate that triggers the alarm.", 5, type_="Number", MinValue=1,
                                        MaxValue=100)} | _TOPIC_PARAM

    def stat(metric_id: str, name: str) -> dict:
        return {"Id": metric_id, "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": name,
            "Dimensions": [{"Name": "FunctionName", "Value": Ref("FunctionName")}]}, "Period": 300, "Stat": "Sum"}}

    metrics = {"Metrics": [stat("errors", "Errors"), stat("invocations", "Invocations"),
                           {"Id": "errorRate", "Label": "Error rate (%)", "ReturnData": True,
                            "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)"}]}
    resources = {"ErrorRateAlarm": _alarm(Sub("${FunctionName}-error-rate"), "Error rate above the threshold",
                                          metrics, Ref("ErrorRatePercent"), "GreaterThanThreshold", 5, 3,
                                          Ref("AlarmTopicArn"))}
    doc = template("Lambda error-rate alarm using metric math.", params, resources)
    ask = ("CloudFormation alarm on a Lambda function's error rate (errors / invocations, as a percentage) rather "
           "than raw errors: alarm when it exceeds 5% in 3 of 5 five-minute periods and notify an existing topic.")
    prose = ("A percentage scales with traffic, so busy hours do not page for a handful of errors and quiet hours "
             "still catch a broken deploy. The IF guard avoids dividing by zero when there are no invocations, and "
             "3 of 5 datapoints ignores a single noisy period.")
    return draft(ask, doc, "yaml", prose)


def _alarm_alb(rng: random.Random) -> Draft:
    latency = rng.choice([1.5, 2])
    params = {"LoadBalancerFullName": param("Load balancer full name, e.g. app/web/0123456789abcdef."),
              "TargetErrorThreshold": param("5xx responses per 5 minutes that alarm.", 25, type_="Number")}
    params |= _TOPIC_PARAM
    resources = {
        "Target5xxAlarm": _alarm(Sub("${LoadBalancerFullName}-5xx"), "Targets returned too many 5xx responses",
                                 _metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer",
                                         Ref("LoadBalancerFullName"), "Sum", 300),
                                 Ref("TargetErrorThreshold"), "GreaterThanThreshold", 2, 2, Ref("AlarmTopicArn")),
        "LatencyAlarm": _alarm(Sub("${LoadBalancerFullName}-p99-latency"), f"p99 response time above {latency} s",
                               _metric("AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer",
                                       Ref("LoadBalancerFullName"), "p99", 60),
                               latency, "GreaterThanThreshold", 5, 3, Ref("AlarmTopicArn")),
    }
    doc = template("Error and latency alarms for an Application Load Balancer.", params, resources)
    ask = (f"Two CloudWatch alarms in CloudFormation for an ALB: target 5xx count above a configurable threshold "
           f"(default 25 per 5 minutes, twice in a row) and p99 target response time over {latency} seconds in 3 "
           "of 5 minutes. Both notify an existing SNS topic.")
    prose = ("The latency alarm uses the p99 extended statistic because averages hide the slow tail that users "
             "notice. Requiring consecutive or majority datapoints keeps a single bad minute from paging anyone.")
    return draft(ask, doc, "yaml", prose)


def _alarm_throttles(rng: random.Random) -> Draft:
    params = {"TableName": param("DynamoDB table to watch.")} | _TOPIC_PARAM
    resources = {
        f"{kind}ThrottleAlarm": _alarm(Sub("${TableName}-" + kind.lower() + "-throttles"),
                                       f"{kind} requests are being throttled",
                                       _metric("AWS/DynamoDB", f"{kind}ThrottleEvents", "TableName", Ref("TableName"),
                                               "Sum", 60), 0, "GreaterThanThreshold", 3, 3, Ref("AlarmTopicArn"))
        for kind in ("Read", "Write")}
    doc = template("Read and write throttling alarms for a DynamoDB table.", params, resources)
    ask = (f"CloudFormation{fmt_phrase('json', rng)}: alarms for read and write throttle events on a DynamoDB table, "
           "triggering after three consecutive minutes with throttling and notifying an existing topic.")
    prose = ("Throttling means requests are being rejected, so any non-zero count is worth attention, but three "
             "consecutive minutes filter out brief bursts that the SDK retries absorb. Read and write are separate "
             "alarms because the fixes differ (capacity, hot keys or a GSI).")
    return draft(ask, doc, "json", prose)


def _alarm_rds(rng: random.Random) -> Draft:
    cpu = rng.choice([80, 85])
    params = {"DBInstanceIdentifier": param("RDS instance to watch."),
              "FreeStorageThresholdBytes": param("Alarm below this much free storage.", 10737418240, type_="Number")}
    params |= _TOPIC_PARAM
    resources = {
        "CpuAlarm": _alarm(Sub("${DBInstanceIdentifier}-cpu"), f"Average CPU above {cpu}% for 15 minutes",
                           _metric("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", Ref("DBInstanceIdentifier"),
                                   "Average", 300), cpu, "GreaterThanThreshold", 3, 3, Ref("AlarmTopicArn")),
        "StorageAlarm": _alarm(Sub("${DBInstanceIdentifier}-free-storage"), "Free storage is running low",
                               _metric("AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier",
                                       Ref("DBInstanceIdentifier"), "Minimum", 300),
                               Ref("FreeStorageThresholdBytes"), "LessThanThreshold", 1, 1, Ref("AlarmTopicArn")),
    }
    doc = template("CPU and free-storage alarms for an RDS instance.", params, resources)
    ask = (f"Write a CloudFormation template with CloudWatch alarms for an RDS instance: CPU above {cpu}% for 15 "
           "minutes and free storage below 10 GiB (configurable), sent to an SNS topic passed as a parameter.")
    prose = ("CPU uses three 5-minute averages so a short spike from a batch job does not alert, while free storage "
             "alarms on the first low reading because running out of disk stops the database. The storage "
             "threshold is in bytes, as CloudWatch reports it.")
    return draft(ask, doc, "yaml", prose)


def examples(rng: random.Random) -> list[dict]:
    families = [_eb_schedule, _eb_s3_to_queue, _eb_guardduty, _eb_pipeline, _eb_probe, _eb_custom_bus,
                _alarm_dlq, _alarm_lambda_errors, _alarm_error_rate, _alarm_alb, _alarm_throttles, _alarm_rds]
    return finish(rng, [family(rng) for family in families])
