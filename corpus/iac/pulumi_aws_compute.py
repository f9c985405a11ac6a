"""Pulumi (Python) examples for AWS compute: Lambda functions with their roles, and ECR repositories."""

from __future__ import annotations

import random
import textwrap

from .pulumi import AWS_HEADER, Program, fill, finish, kms_key_block, program, py_literal

_JSON_HEADER = "import json\n\n" + AWS_HEADER

# --- Lambda ---------------------------------------------------------------------------------------------------

_TRUST = fill('''
    role = aws.iam.Role(
        "role",
        name=f"{function_name}-execution",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )''')

_HANDLERS = {
    "webhook": '''
        import json


        def handler(event, context):
            body = json.loads(event.get("body") or "{}")
            print(json.dumps({"received": body.get("orderId")}))
            return {"statusCode": 202, "body": json.dumps({"accepted": True})}
        ''',
    "consumer": '''
        exports.handler = async (event) => {
          const failures = [];
          for (const record of event.Records) {
            try {
              JSON.parse(record.body);
            } catch (err) {
              failures.push({ itemIdentifier: record.messageId });
            }
          }
          return { batchItemFailures: failures };
        };
        ''',
}

_FUNCTIONS = [
    {"name": "order-webhook", "kind": "webhook", "runtime": "python3.13", "memory": 256, "timeout": 10,
     "retention": 30, "concurrency": 50, "file": "index.py",
     "ask": "Write a Pulumi Python program for an order-webhook Lambda (python3.13, 256 MB, 10 s) that API Gateway "
            "calls synchronously. Inline the handler, keep logs 30 days and give the role only log-write rights."},
    {"name": "nightly-report", "kind": "schedule", "runtime": "python3.13", "memory": 1024, "timeout": 300,
     "retention": 14, "concurrency": 1, "archive": "./report",
     "ask": "Using Pulumi (Python), deploy the nightly-report Lambda from ./report and run it every night at 02:30 "
            "UTC with an EventBridge rule. Failed async invocations go to an SQS dead-letter queue; logs 14 days."},
    {"name": "queue-consumer", "kind": "consumer", "runtime": "nodejs24.x", "memory": 512, "timeout": 30,
     "retention": 60, "concurrency": 20, "file": "index.js",
     "ask": "Pulumi Python: a nodejs24.x Lambda that consumes an existing SQS queue (ARN from config) in batches of "
            "10 and reports partial batch failures. Concurrency 20, log retention 60 days, least-privilege role."},
    {"name": "db-health-check", "kind": "vpc", "runtime": "python3.13", "memory": 128, "timeout": 10,
     "retention": 7, "concurrency": 2, "archive": "./health",
     "ask": "I need a Pulumi program (Python) for a small Lambda from ./health that runs in private subnets (subnet "
            "and security group IDs from config) to check database connectivity. Keep its logs for a week."},
]


def _log_group(retention: int, kms: bool = False) -> str:
    key = "\n    kms_key_id=key.arn," if kms else ""
    return fill('''
        log_group = aws.cloudwatch.LogGroup(
            "logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=$retention,$key
        )''', retention=retention, key=key)


def _role_policy(extra: str = "") -> str:
    return fill('''
        role_policy = aws.iam.RolePolicy(
            "role-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": pulumi.Output.concat(log_group.arn, ":*"),
                        },$extra
                    ],
                }
            ),
        )''', extra=extra)


def _grant(actions: str, resource: str) -> str:
    return textwrap.indent(f'\n{{\n    "Effect": "Allow",\n    "Action": {actions},\n    "Resource": {resource},\n}},',
                           " " * 16).replace(" " * 16 + "\n", "\n")


def _function(spec: dict, extra_args: list[str]) -> str:
    if "file" in spec:
        code = f'code=pulumi.AssetArchive({{"{spec["file"]}": pulumi.StringAsset(HANDLER)}})'
    else:
        code = f'code=pulumi.FileArchive("{spec["archive"]}")'
    handler = "index.handler" if "file" in spec else "main.handler"
    args = ["name=function_name", f'runtime="{spec["runtime"]}"', 'architectures=["arm64"]',
            f'handler="{handler}"', "role=role.arn", code, f"memory_size={spec['memory']}",
            f"timeout={spec['timeout']}", f"reserved_concurrent_executions={spec['concurrency']}", *extra_args,
            'logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name)',
            "opts=pulumi.ResourceOptions(depends_on=[role_policy])"]
    body = "\n".join("    " + line for arg in args for line in (arg + ",").split("\n"))
    return f'function = aws.lambda_.Function(\n    "function",\n{body}\n)'


def _lambda_code(spec: dict) -> str:
    config = [f'config = pulumi.Config()\nfunction_name = config.get("functionName") or "{spec["name"]}"']
    blocks: list[str] = []
    if "file" in spec:
        blocks.append(f'HANDLER = """\n{textwrap.dedent(_HANDLERS[spec["kind"]]).strip()}\n"""')
    extra_grants = ""
    extra_args: list[str] = []
    tail: list[str] = []
    kind = spec["kind"]
    if kind == "consumer":
        config.append('queue_arn = config.require("queueArn")')
        actions = "[\n" + "".join(f'        "sqs:{name}",\n' for name in ("ReceiveMessage", "DeleteMessage",
                                                                     "GetQueueAttributes")) + "    ]"
        extra_grants = _grant(actions, "queue_arn")
        tail.append(fill('''
            aws.lambda_.EventSourceMapping(
                "queue-trigger",
                event_source_arn=queue_arn,
                function_name=function.arn,
                batch_size=10,
                maximum_batching_window_in_seconds=5,
                function_response_types=["ReportBatchItemFailures"],
            )'''))
    elif kind == "schedule":
        blocks.append(fill('''
            dead_letter_queue = aws.sqs.Queue(
                "dead-letter-queue",
                name=f"{function_name}-dlq",
                message_retention_seconds=1209600,
                sqs_managed_sse_enabled=True,
            )'''))
        extra_grants = _grant('"sqs:SendMessage"', "dead_letter_queue.arn")
        extra_args.append("dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn="
                          "dead_letter_queue.arn)")
        tail.append(fill('''
            schedule = aws.cloudwatch.EventRule(
                "nightly",
                schedule_expression="cron(30 2 * * ? *)",
                description=f"Runs {function_name} every night",
            )

            aws.cloudwatch.EventTarget("nightly-target", rule=schedule.name, arn=function.arn)

            aws.lambda_.Permission(
                "allow-eventbridge",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=schedule.arn,
            )'''))
    elif kind == "vpc":
        config.append('subnet_ids = config.require_object("subnetIds")\n'
                      'security_group_id = config.require("securityGroupId")')
        extra_args.append("vpc_config=aws.lambda_.FunctionVpcConfigArgs(\n    subnet_ids=subnet_ids,\n"
                          "    security_group_ids=[security_group_id],\n)")
        tail.insert(0, fill('''
            # Network interface permissions for VPC access; these actions cannot be scoped to a resource.
            aws.iam.RolePolicyAttachment(
                "vpc-access",
                role=role.name,
                policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            )'''))
    blocks = ["\n".join(config), *blocks, _log_group(spec["retention"]), _TRUST, _role_policy(extra_grants)]
    blocks.append(_function(spec, extra_args))
    blocks += tail
    blocks.append('pulumi.export("function_arn", function.arn)')
    return program(f"{spec['name']} Lambda function with its log group and least-privilege role.", _JSON_HEADER,
                   *blocks)


def _lambda_prose(spec: dict) -> str:
    parts = [f"Creating the log group in the program means the {spec['retention']}-day retention applies from the "
             "first invocation, and the role may write only to that group."]
    parts.append({
        "webhook": "The function is invoked synchronously, so errors go back to API Gateway and no dead-letter "
                   "queue is needed.",
        "schedule": "EventBridge invokes it asynchronously, so events that still fail after Lambda's two retries "
                    "land in an encrypted dead-letter queue.",
        "consumer": "ReportBatchItemFailures makes SQS retry only the failed messages instead of the whole batch.",
        "vpc": "The VPC access policy is the AWS managed one because network-interface actions cannot be scoped.",
    }[spec["kind"]])
    parts.append(f"Reserved concurrency of {spec['concurrency']} keeps the function from starving others or "
                 "overloading what it calls.")
    return " ".join(parts)


def _notifier(rng: random.Random) -> Program:
    retention = rng.choice([30, 90])
    handler = textwrap.dedent('''
        import json
        import os
        import urllib.request

        import boto3

        secrets = boto3.client("secretsmanager")


        def handler(event, context):
            url = secrets.get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ARN"])["SecretString"]
            data = json.dumps({"text": event.get("message", "ping")}).encode()
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return {"status": response.status}
        ''').strip()
    spec = {"name": "chat-notifier", "runtime": "python3.13", "memory": 128, "timeout": 10, "concurrency": 5,
            "file": "index.py"}
    grants = (_grant('"secretsmanager:GetSecretValue"', "secret.arn") + _grant('"kms:Decrypt"', "key.arn"))
    blocks = [
        fill('''
            config = pulumi.Config()
            function_name = config.get("functionName") or "chat-notifier"
            # Set with: pulumi config set --secret chatWebhookUrl <url>
            webhook_url = config.require_secret("chatWebhookUrl")'''),
        f'HANDLER = """\n{handler}\n"""',
        kms_key_block("key", "notifier-key", 'f"Encrypts the {function_name} webhook secret"'),
        fill('''
            secret = aws.secretsmanager.Secret("webhook-url", name=f"{function_name}/webhook-url", kms_key_id=key.arn)

            aws.secretsmanager.SecretVersion("webhook-url", secret_id=secret.id, secret_string=webhook_url)'''),
        _log_group(retention), _TRUST, _role_policy(grants),
        _function(spec, ['environment=aws.lambda_.FunctionEnvironmentArgs(variables={"WEBHOOK_SECRET_ARN": '
                         'secret.arn})']),
        'pulumi.export("function_arn", function.arn)',
    ]
    ask = ("Write a Pulumi Python program for a chat-notifier Lambda that posts to a webhook. The webhook URL is a "
           "secret: take it from encrypted config, keep it in Secrets Manager, and give the function only the "
           f"secret's ARN. Logs {retention} days.")
    prose = ("The URL travels from encrypted stack config into Secrets Manager, and the function receives only the "
             "secret's ARN, so the value never sits in an environment variable or the Lambda console. The role may "
             "read that one secret and decrypt with its key, nothing more.")
    return Program(ask, program("Chat notifier Lambda that reads its webhook URL from Secrets Manager.",
                                _JSON_HEADER, *blocks), prose)


def _lambdas(rng: random.Random) -> list[Program]:
    programs = [Program(spec["ask"], _lambda_code(spec), _lambda_prose(spec)) for spec in _FUNCTIONS]
    return [*programs, _notifier(rng)]


# --- ECR ------------------------------------------------------------------------------------------------------


def _lifecycle(untagged: int, keep: int, prefixes: list[str]) -> str:
    keep_rule: dict = {"tagStatus": "tagged", "tagPrefixList": prefixes} if prefixes else {"tagStatus": "any"}
    rules = {"rules": [
        {"rulePriority": 1, "description": "Expire untagged images",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the {keep} newest images",
         "selection": keep_rule | {"countType": "imageCountMoreThan", "countNumber": keep},
         "action": {"type": "expire"}}]}
    return f'aws.ecr.LifecyclePolicy(\n    "lifecycle",\n    repository=repository.name,\n' \
           f"    policy=json.dumps(\n        {py_literal(rules, 8)}\n    ),\n)"


def _repository(default: str, kms: bool = True) -> str:
    encryption = ('\n    encryption_configurations=[\n        aws.ecr.RepositoryEncryptionConfigurationArgs('
                  'encryption_type="KMS", kms_key=key.arn)\n    ],') if kms else ""
    return fill('''
        repository = aws.ecr.Repository(
            "repository",
            name=repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),$enc
        )''', enc=encryption)


def _ecr_base(name: str, untagged: int, keep: int, prefixes: list[str], config: str = "") -> list[str]:
    return [
        f'config = pulumi.Config()\nrepository_name = config.get("repositoryName") or "{name}"' + config,
        kms_key_block("key", "ecr-key", 'f"Encrypts images in {repository_name}"'),
        _repository(name),
        _lifecycle(untagged, keep, prefixes),
    ]


def _ecr_simple(rng: random.Random) -> Program:
    blocks = [*_ecr_base("payments/api", 7, 30, ["v"]), 'pulumi.export("repository_url", repository.repository_url)']
    ask = ("Create a private ECR repository payments/api with Pulumi in Python: immutable tags, scan on push, a new "
           "KMS key, and a lifecycle policy that expires untagged images after 7 days and keeps 30 v-tagged images.")
    prose = ("Immutable tags guarantee a tag always points to the same digest, so deployments are reproducible, and "
             "every push is scanned for known CVEs. Layers are encrypted with a rotating customer-managed key, and "
             "the lifecycle policy keeps storage bounded while leaving 30 releases for rollbacks.")
    return Program(ask, program("Private ECR repository for payments/api.", _JSON_HEADER, *blocks), prose)


def _ecr_cross_account(rng: random.Random) -> Program:
    blocks = _ecr_base("ml/inference", 3, 10, [], '\npull_account_ids: list[str] = config.require_object('
                       '"pullAccountIds")')
    blocks.append(fill('''
        aws.ecr.RepositoryPolicy(
            "cross-account-pull",
            repository=repository.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "PullOnly",
                            "Effect": "Allow",
                            "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in pull_account_ids]},
                            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                        }
                    ],
                }
            ),
        )'''))
    blocks.append('pulumi.export("repository_url", repository.repository_url)')
    ask = ("Pulumi (Python) ECR repository ml/inference that the production and staging accounts (IDs in config) "
           "can pull from but not push to. Immutable tags, scanning, KMS, keep the 10 newest images.")
    prose = ("The repository policy grants only the two pull actions to the listed accounts, which still decide "
             "internally which of their roles may use them; those roles also need kms:Decrypt on the key. Untagged "
             "images expire after three days and only the ten newest images are kept.")
    return Program(ask, program("ECR repository for ml/inference shared read-only with other accounts.",
                                _JSON_HEADER, *blocks), prose)


def _ecr_enhanced(rng: random.Random) -> Program:
    blocks = [*_ecr_base("data/etl-jobs", 1, 15, ["release-", "hotfix-"]), fill('''
        # Enhanced scanning (Amazon Inspector) rescans images continuously as new CVEs are published.
        aws.ecr.RegistryScanningConfiguration(
            "registry-scanning",
            scan_type="ENHANCED",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="CONTINUOUS_SCAN",
                    repository_filters=[
                        aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                            filter="*",
                            filter_type="WILDCARD",
                        )
                    ],
                )
            ],
        )'''), 'pulumi.export("repository_url", repository.repository_url)']
    ask = ("With Pulumi in Python, create the data/etl-jobs ECR repository (immutable, KMS-encrypted, keep 15 "
           "release-/hotfix- images) and switch the registry to continuous enhanced scanning for all repositories.")
    prose = ("Basic scan on push only checks an image once, while enhanced scanning with Amazon Inspector keeps "
             "rescanning as new vulnerabilities are published. The registry scanning configuration is account-wide, "
             "so manage it in one stack only.")
    return Program(ask, program("ECR repository with continuous enhanced scanning for the registry.", _JSON_HEADER,
                                *blocks), prose)


def _ecr_pull_through(rng: random.Random) -> Program:
    blocks = [
        fill('''
            config = pulumi.Config()
            docker_hub_user = config.require("dockerHubUsername")
            # Set with: pulumi config set --secret dockerHubToken <token>
            docker_hub_token = config.require_secret("dockerHubToken")'''),
        kms_key_block("key", "cache-credentials-key", '"Encrypts the Docker Hub credentials"'),
        fill('''
            # Pull-through cache credentials must live under the ecr-pullthroughcache/ prefix.
            credentials = aws.secretsmanager.Secret(
                "docker-hub-credentials",
                name="ecr-pullthroughcache/docker-hub",
                kms_key_id=key.arn,
            )

            aws.secretsmanager.SecretVersion(
                "docker-hub-credentials",
                secret_id=credentials.id,
                secret_string=pulumi.Output.json_dumps({"username": docker_hub_user, "accessToken": docker_hub_token}),
            )

            rule = aws.ecr.PullThroughCacheRule(
                "docker-hub",
                ecr_repository_prefix="docker-hub",
                upstream_registry_url="registry-1.docker.io",
                credential_arn=credentials.arn,
            )'''),
        'pulumi.export("cache_prefix", rule.ecr_repository_prefix)',
    ]
    ask = ("Set up an ECR pull-through cache for Docker Hub with Pulumi (Python) so builds stop hitting Docker Hub "
           "rate limits. The Docker Hub access token must come from encrypted Pulumi config.")
    prose = ("Images pulled as <account>.dkr.ecr.<region>.amazonaws.com/docker-hub/library/nginx are fetched once "
             "and then served from ECR, which avoids anonymous rate limits. The access token goes from secret "
             "config into a KMS-encrypted secret under the prefix ECR requires.")
    return Program(ask, program("ECR pull-through cache for Docker Hub with credentials from secret config.",
                                AWS_HEADER, *blocks), prose)


def examples(rng: random.Random) -> list[dict]:
    ecr = [builder(rng) for builder in (_ecr_simple, _ecr_cross_account, _ecr_enhanced, _ecr_pull_through)]
    return finish(rng, _lambdas(rng) + ecr)
