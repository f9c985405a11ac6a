"""Pulumi (Python) examples for AWS messaging and data: SQS queues with dead-letter queues and DynamoDB tables."""

from __future__ import annotations

import random

from .pulumi import AWS_HEADER, Program, fill, finish, kms_key_block, program, tls_only_policy

_DAY = 86400

# --- SQS ------------------------------------------------------------------------------------------------------

_SQS = [
    {"name": "image-resize", "visibility": 120, "retention": 4, "receives": 5, "kms": "new",
     "job": "an image-resize worker"},
    {"name": "payment-events", "visibility": 60, "retention": 7, "receives": 3, "kms": "new", "fifo": True,
     "job": "payment events that must stay in order per account"},
    {"name": "email-dispatch", "visibility": 60, "retention": 2, "receives": 10, "kms": "sqs",
     "job": "outgoing e-mail jobs"},
    {"name": "webhook-retries", "visibility": 45, "retention": 3, "receives": 8, "kms": "new", "delay": 30,
     "producer": True, "job": "webhook deliveries retried after a short delay"},
]

_SQS_ASKS = [
    "Write a Pulumi Python program for an SQS queue for {job} with a dead-letter queue: {reqs}.",
    "Create SQS queues with Pulumi (Python, pulumi_aws) for {job}. I want {reqs}.",
    "Pulumi program in Python: a queue for {job} plus its DLQ. Requirements: {reqs}. Export the queue URL.",
]


def _sqs_reqs(spec: dict) -> str:
    enc = {"new": "a new KMS key", "sqs": "SQS-managed encryption (SSE-SQS)"}[spec["kms"]]
    reqs = [f"{spec['visibility']}-second visibility timeout", f"{spec['retention']}-day retention",
            f"redrive after {spec['receives']} receives", f"both queues encrypted with {enc}", "TLS-only access"]
    if spec.get("fifo"):
        reqs.insert(0, "FIFO ordering with content-based deduplication")
    if spec.get("delay"):
        reqs.append(f"a {spec['delay']}-second delivery delay")
    if spec.get("producer"):
        reqs.append("send rights for one producer role from config")
    return ", ".join(reqs[:-1]) + " and " + reqs[-1]


def _sqs_code(spec: dict) -> str:
    suffix = ".fifo" if spec.get("fifo") else ""
    config = [f'config = pulumi.Config()\nqueue_name = config.get("queueName") or "{spec["name"]}"']
    if spec.get("producer"):
        config.append('producer_role_arn = config.require("producerRoleArn")')
    blocks = ["\n".join(config)]
    if spec["kms"] == "new":
        blocks.append(kms_key_block("key", "queue-key", 'f"Encrypts the {queue_name} queues"'))
        encryption = "kms_master_key_id=key.id,\n    kms_data_key_reuse_period_seconds=300,"
    else:
        encryption = "sqs_managed_sse_enabled=True,"
    fifo = "fifo_queue=True,\n    " if suffix else ""
    blocks.append(fill('''
        dead_letter_queue = aws.sqs.Queue(
            "dead-letter-queue",
            name=f"{queue_name}-dlq$suffix",
            ${fifo}message_retention_seconds=1209600,  # 14 days, the maximum
            $encryption
        )''', suffix=suffix, fifo=fifo, encryption=encryption))
    options = [f'name=f"{{queue_name}}{suffix}"' if suffix else "name=queue_name"]
    if suffix:
        options += ["fifo_queue=True", "content_based_deduplication=True", 'deduplication_scope="messageGroup"',
                    'fifo_throughput_limit="perMessageGroupId"']
    options += [f"visibility_timeout_seconds={spec['visibility']}",
                f"message_retention_seconds={spec['retention'] * _DAY}", "receive_wait_time_seconds=20"]
    if spec.get("delay"):
        options.append(f"delay_seconds={spec['delay']}")
    options.append(encryption.replace("\n    ", "\n"))
    options.append('redrive_policy=pulumi.Output.json_dumps(\n    {"deadLetterTargetArn": dead_letter_queue.arn, '
                   f'"maxReceiveCount": {spec["receives"]}}}\n)')
    body = "\n".join("    " + line for option in options for line in (option.rstrip(",") + ",").split("\n"))
    body = body.replace(",,", ",")
    blocks.append(f'queue = aws.sqs.Queue(\n    "queue",\n{body}\n)')
    blocks.append(fill('''
        # Only this queue may move messages into the DLQ.
        aws.sqs.RedriveAllowPolicy(
            "dlq-redrive-allow",
            queue_url=dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
            ),
        )'''))
    extra = ""
    if spec.get("producer"):
        extra = '''
            {
                "Sid": "AllowProducer",
                "Effect": "Allow",
                "Principal": {"AWS": producer_role_arn},
                "Action": "sqs:SendMessage",
                "Resource": queue.arn,
            },'''
    policy = tls_only_policy("sqs:*", "queue.arn", extra)
    blocks.append(f'aws.sqs.QueuePolicy(\n    "queue-policy",\n    queue_url=queue.url,\n    policy={policy},\n)')
    blocks.append('pulumi.export("queue_url", queue.url)\n'
                  'pulumi.export("dead_letter_queue_url", dead_letter_queue.url)')
    return program(f"SQS queue with a dead-letter queue for {spec['job']}.", AWS_HEADER, *blocks)


def _sqs_prose(spec: dict) -> str:
    parts = [f"A message that fails {spec['receives']} receives moves to the dead-letter queue, which keeps it for "
             "14 days, and the redrive-allow policy stops other queues from using that DLQ."]
    if spec.get("fifo"):
        parts.append("Both queues are FIFO, as SQS requires, and per-message-group throughput keeps ordering within "
                     "an account while different accounts are processed in parallel.")
    elif spec["kms"] == "sqs":
        parts.append("SSE-SQS encrypts at rest with no key to manage; switch to a customer-managed key if SNS or "
                     "EventBridge must deliver into these queues.")
    else:
        parts.append("Long polling cuts empty receives, and the key's data keys are reused for five minutes to "
                     "keep KMS calls down.")
    parts.append("The queue policy rejects any request made without TLS.")
    return " ".join(parts)


def _sqs(rng: random.Random) -> list[Program]:
    asks = _SQS_ASKS * 2
    rng.shuffle(asks)
    programs = [Program(ask.format(job=spec["job"], reqs=_sqs_reqs(spec)), _sqs_code(spec), _sqs_prose(spec))
                for spec, ask in zip(_SQS, asks, strict=False)]
    fixed = {"name": "orders-processing", "visibility": 180, "retention": 4, "receives": 5, "kms": "new",
             "job": "order processing"}
    given = fill('''
        import pulumi
        import pulumi_aws as aws

        queue = aws.sqs.Queue("orders", name="orders-processing", visibility_timeout_seconds=180)

        pulumi.export("queue_url", queue.url)''')
    ask = rng.choice(["Add a dead-letter queue (after 5 failed receives) and KMS encryption to this Pulumi queue.",
                      "Messages that keep failing block this queue and it is not encrypted. Fix it in Pulumi."])
    prose = "The 180-second visibility timeout is kept and the name is now configurable. " + _sqs_prose(fixed)
    programs.append(Program(ask, _sqs_code(fixed), prose, input=given))
    return programs


# --- DynamoDB -------------------------------------------------------------------------------------------------

_DDB = [
    {"name": "orders", "pk": "customerId", "sk": "orderId", "gsi": ("by-status", "status", "createdAt"),
     "kms": "new", "what": "customer orders looked up by customer and by status"},
    {"name": "sessions", "pk": "sessionId", "ttl": "expiresAt", "kms": "new", "what": "short-lived web sessions"},
    {"name": "inventory", "pk": "sku", "stream": "NEW_AND_OLD_IMAGES", "kms": "config", "capacity": (10, 5),
     "what": "inventory levels streamed to a replication consumer"},
    {"name": "idempotency-keys", "pk": "id", "ttl": "ttl", "kms": "new", "pitr_days": 7,
     "what": "API idempotency keys"},
]

_DDB_ASKS = [
    "Write a Pulumi Python program for a DynamoDB table that stores {what}: {reqs}.",
    "Using pulumi_aws, create a DynamoDB table for {what} with {reqs}.",
    "I need a DynamoDB table for {what}, defined with Pulumi in Python. Requirements: {reqs}.",
]


def _ddb_reqs(spec: dict) -> str:
    reqs = [f"partition key {spec['pk']}" + (f" and sort key {spec['sk']}" if spec.get("sk") else "")]
    reqs.append(f"provisioned {spec['capacity'][0]}/{spec['capacity'][1]} RCU/WCU" if spec.get("capacity")
                else "on-demand capacity")
    if spec.get("gsi"):
        reqs.append(f"a {spec['gsi'][0]} index on {spec['gsi'][1]} and {spec['gsi'][2]}")
    if spec.get("ttl"):
        reqs.append(f"TTL on {spec['ttl']}")
    if spec.get("stream"):
        reqs.append("a stream with old and new images")
    if spec.get("infrequent"):
        reqs.append("the Standard-IA table class")
    days = f" with a {spec['pitr_days']}-day window" if spec.get("pitr_days") else ""
    reqs.append(f"point-in-time recovery{days}")
    reqs.append("encryption with " + ("a new customer-managed key" if spec["kms"] == "new"
                                      else "a KMS key from config"))
    reqs.append("deletion protection")
    return ", ".join(reqs[:-1]) + " and " + reqs[-1]


def _ddb_code(spec: dict) -> str:
    config = [f'config = pulumi.Config()\ntable_name = config.get("tableName") or "{spec["name"]}"']
    if spec["kms"] == "config":
        config.append('kms_key_arn = config.require("kmsKeyArn")')
    blocks = ["\n".join(config)]
    key_arn = "kms_key_arn"
    if spec["kms"] == "new":
        blocks.append(kms_key_block("key", "table-key", 'f"Encrypts the {table_name} table"'))
        key_arn = "key.arn"
    attrs = [spec["pk"]] + ([spec["sk"]] if spec.get("sk") else []) + (list(spec["gsi"][1:]) if spec.get("gsi")
                                                                        else [])
    lines = ["name=table_name"]
    if spec.get("capacity"):
        lines += ['billing_mode="PROVISIONED"', f"read_capacity={spec['capacity'][0]}",
                  f"write_capacity={spec['capacity'][1]}"]
    else:
        lines.append('billing_mode="PAY_PER_REQUEST"')
    if spec.get("infrequent"):
        lines.append('table_class="STANDARD_INFREQUENT_ACCESS"')
    lines.append(f'hash_key="{spec["pk"]}"')
    if spec.get("sk"):
        lines.append(f'range_key="{spec["sk"]}"')
    lines.append("attributes=[\n" + "".join(f'    aws.dynamodb.TableAttributeArgs(name="{a}", type="S"),\n'
                                            for a in attrs) + "]")
    if spec.get("gsi"):
        index, gpk, gsk = spec["gsi"]
        lines.append(fill('''
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name="$index",
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name="$gpk", key_type="HASH"),
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name="$gsk", key_type="RANGE"),
                    ],
                    projection_type="ALL",
                )
            ]''', index=index, gpk=gpk, gsk=gsk))
    if spec.get("ttl"):
        lines.append(f'ttl=aws.dynamodb.TableTtlArgs(attribute_name="{spec["ttl"]}", enabled=True)')
    if spec.get("stream"):
        lines += ["stream_enabled=True", f'stream_view_type="{spec["stream"]}"']
    days = f", recovery_period_in_days={spec['pitr_days']}" if spec.get("pitr_days") else ""
    lines.append(f"point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True{days})")
    lines.append(f"server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, "
                 f"kms_key_arn={key_arn})")
    lines.append("deletion_protection_enabled=True")
    lines.append(f'tags={{"service": "{spec["name"]}"}}')
    body = "\n".join("    " + row for line in lines for row in (line + ",").split("\n"))
    blocks.append(f'table = aws.dynamodb.Table(\n    "table",\n{body}\n    '
                  'opts=pulumi.ResourceOptions(protect=True),\n)')
    exports = 'pulumi.export("table_name", table.name)\npulumi.export("table_arn", table.arn)'
    if spec.get("stream"):
        exports += '\npulumi.export("stream_arn", table.stream_arn)'
    blocks.append(exports)
    return program(f"DynamoDB table for {spec['what']}.", AWS_HEADER, *blocks)


def _ddb_prose(spec: dict) -> str:
    key = "a dedicated customer-managed key" if spec["kms"] == "new" else "the key from stack config"
    parts = [f"The table is encrypted with {key} and has point-in-time recovery, so it can be restored to any "
             "second in the recovery window."]
    if spec.get("ttl"):
        parts.append(f"TTL deletes items once their {spec['ttl']} epoch-seconds value has passed, at no cost.")
    elif spec.get("stream"):
        parts.append("The stream carries old and new images so the consumer can compute deltas.")
    elif spec.get("gsi"):
        parts.append("The GSI is declared with key_schemas, which replaces the deprecated hash_key and range_key "
                     "arguments.")
    parts.append("Deletion protection and Pulumi's protect option both have to be removed before the table can be "
                 "destroyed.")
    return " ".join(parts)


def _ddb(rng: random.Random) -> list[Program]:
    asks = _DDB_ASKS * 2
    rng.shuffle(asks)
    programs = [Program(ask.format(what=spec["what"], reqs=_ddb_reqs(spec)), _ddb_code(spec), _ddb_prose(spec))
                for spec, ask in zip(_DDB, asks, strict=False)]
    listed = {"name": "audit-events", "pk": "tenantId", "sk": "eventTime", "gsi": ("by-actor", "actorId", "eventTime"),
              "kms": "new", "infrequent": True, "what": "tenant audit events"}
    reqs = "\n".join(["- Table audit-events (name overridable in config)", "- Keys: tenantId (partition), eventTime "
                      "(sort), both strings", "- Index by-actor on actorId + eventTime", "- On-demand, Standard-IA "
                      "table class (rarely read)", "- Encrypted with its own KMS key, PITR on, deletion protected"])
    prose = ("Standard-IA cuts storage cost for data that is written often and read rarely. " + _ddb_prose(listed))
    programs.append(Program("Write the Pulumi Python program for this DynamoDB table.", _ddb_code(listed), prose,
                            input=reqs))
    return programs


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _sqs(rng) + _ddb(rng))
