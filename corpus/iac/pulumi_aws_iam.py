"""Pulumi (Python) examples for AWS access and secrets: least-privilege IAM roles and secrets read from config."""

from __future__ import annotations

import random

from .pulumi import AWS_HEADER, Program, fill, finish, kms_key_block, program

_JSON_HEADER = "import json\n\n" + AWS_HEADER

# --- IAM roles ------------------------------------------------------------------------------------------------


def _statement(actions: list[str], resource: str, condition: str = "") -> str:
    action = f'"{actions[0]}"' if len(actions) == 1 else "[" + ", ".join(f'"{a}"' for a in actions) + "]"
    if len(action) > 90:
        action = "[\n" + "".join(f'        "{a}",\n' for a in actions) + "    ]"
    cond = f'\n    "Condition": {condition},' if condition else ""
    return f'{{\n    "Effect": "Allow",\n    "Action": {action},\n    "Resource": {resource},{cond}\n}}'


def _policy_block(name: str, statements: list[str], dynamic: bool) -> str:
    """An inline RolePolicy; json_dumps is only needed when a statement refers to another resource's output."""
    dumps = "pulumi.Output.json_dumps" if dynamic else "json.dumps"
    body = ",\n".join(statements)
    body = "\n".join(" " * 16 + line for line in body.split("\n"))
    return (f'aws.iam.RolePolicy(\n    "{name}",\n    role=role.id,\n    policy={dumps}(\n        {{\n'
            f'            "Version": "2012-10-17",\n            "Statement": [\n{body},\n            ],\n        }}\n'
            "    ),\n)")


def _trust(principal: str, condition: str = "") -> str:
    cond = f'\n                    "Condition": {condition},' if condition else ""
    return fill('''
        role = aws.iam.Role(
            "role",
            name=role_name,
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": $principal,
                            "Action": "$action",$cond
                        }
                    ],
                }
            ),
            max_session_duration=3600,
            tags={"managed-by": "pulumi"},
        )''', principal=principal, cond=cond,
        action="sts:AssumeRoleWithWebIdentity" if "Federated" in principal else "sts:AssumeRole")


_LOGS = 'f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/{function_name}:*"'
_IDENTITY = "account_id = aws.get_caller_identity().account_id\nregion = aws.get_region().region"


def _role_orders() -> tuple[str, str, str]:
    config = 'config = pulumi.Config()\nfunction_name = config.get("functionName") or "orders-api"\n' \
             'role_name = f"{function_name}-execution"\n' \
             'table_arn = config.require("tableArn")\n' + _IDENTITY
    policy = _policy_block("least-privilege", [
        _statement(["logs:CreateLogStream", "logs:PutLogEvents"], _LOGS),
        _statement(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                   '[table_arn, f"{table_arn}/index/*"]')], dynamic=False)
    blocks = [config, _trust('{"Service": "lambda.amazonaws.com"}'), policy, 'pulumi.export("role_arn", role.arn)']
    ask = ("Write a Pulumi Python program for the IAM role of the orders-api Lambda function: it may read and write "
           "items in one DynamoDB table (ARN from config) and query its indexes, and write only to its own log group.")
    prose = ("The inline policy lists the four item-level DynamoDB actions the API uses, on the table and its "
             "indexes only, so Scan and DeleteItem stay unavailable. Logging is scoped to the function's own log "
             "group, and the trust policy admits only the Lambda service.")
    return ask, program("Least-privilege execution role for the orders-api Lambda.", _JSON_HEADER, *blocks), prose


def _role_ecs() -> tuple[str, str, str]:
    config = 'config = pulumi.Config()\nrole_name = config.get("roleName") or "report-renderer-task"\n' \
             'bucket_name = config.require("reportBucket")\naccount_id = aws.get_caller_identity().account_id'
    policy = _policy_block("read-templates", [
        _statement(["s3:GetObject"], 'f"arn:aws:s3:::{bucket_name}/templates/*"'),
        _statement(["s3:PutObject"], 'f"arn:aws:s3:::{bucket_name}/rendered/*"')], dynamic=False)
    trust = _trust('{"Service": "ecs-tasks.amazonaws.com"}',
                   '{"StringEquals": {"aws:SourceAccount": account_id}}')
    blocks = [config, trust, policy, 'pulumi.export("task_role_arn", role.arn)']
    ask = ("Create an ECS task role with Pulumi (Python) for a report renderer that reads templates/ and writes "
           "rendered/ in one S3 bucket. Guard the trust policy against the confused-deputy problem.")
    prose = ("The aws:SourceAccount condition means ECS can assume the role only for tasks in this account, which "
             "closes the confused-deputy gap. Reads and writes are limited to one prefix each, so the task cannot "
             "overwrite its own templates.")
    return ask, program("ECS task role for the report renderer.", _JSON_HEADER, *blocks), prose


def _role_github() -> tuple[str, str, str]:
    config = fill('''
        config = pulumi.Config()
        role_name = config.get("roleName") or "github-deploy"
        oidc_provider_arn = config.require("githubOidcProviderArn")
        repository = config.require("githubRepository")  # e.g. acme/payments-api
        ecr_repository_arn = config.require("ecrRepositoryArn")''')
    condition = ('{\n                        "StringEquals": {\n                            '
                 '"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",\n                            '
                 '"token.actions.githubusercontent.com:sub": f"repo:{repository}:ref:refs/heads/main",\n'
                 "                        }\n                    }")
    trust = _trust('{"Federated": oidc_provider_arn}', condition)
    policy = _policy_block("push-images", [
        # GetAuthorizationToken cannot be scoped to a repository.
        _statement(["ecr:GetAuthorizationToken"], '"*"'),
        _statement(["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"], "ecr_repository_arn")],
        dynamic=False)
    blocks = [config, trust, policy, 'pulumi.export("role_arn", role.arn)']
    ask = ("GitHub Actions should push images to one ECR repository without long-lived keys. Write a Pulumi "
           "Python program for an IAM role trusted through our existing GitHub OIDC provider, only for the main "
           "branch of one repository.")
    prose = ("The workflow exchanges its OIDC token for short-lived credentials, so no access keys are stored in "
             "GitHub, and the sub condition limits that to the main branch of one repository. Push rights cover one "
             "ECR repository; only GetAuthorizationToken needs a wildcard resource because it is account-wide.")
    return ask, program("IAM role for GitHub Actions to push images to ECR.", _JSON_HEADER, *blocks), prose


def _role_ec2() -> tuple[str, str, str]:
    config = 'config = pulumi.Config()\nrole_name = config.get("roleName") or "batch-worker"\n' \
             'parameter_path = config.get("parameterPath") or "/batch-worker/"\n' + _IDENTITY
    policy = _policy_block("read-config", [
        _statement(["ssm:GetParametersByPath", "ssm:GetParameter"],
                   'f"arn:aws:ssm:{region}:{account_id}:parameter{parameter_path}*"')], dynamic=False)
    extra = fill('''
        # Session Manager access instead of SSH keys.
        aws.iam.RolePolicyAttachment(
            "ssm-core",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        )

        profile = aws.iam.InstanceProfile("profile", name=role_name, role=role.name)''')
    blocks = [config, _trust('{"Service": "ec2.amazonaws.com"}'), policy, extra,
              'pulumi.export("instance_profile_name", profile.name)']
    ask = ("Pulumi in Python: an EC2 instance role and instance profile for batch workers that are managed through "
           "Session Manager and read their settings from SSM parameters under /batch-worker/.")
    prose = ("AmazonSSMManagedInstanceCore lets operators use Session Manager, so the instances need no SSH keys or "
             "open port 22. The inline policy reads parameters under one path only, and the instance profile is "
             "what you attach to the launch template.")
    return ask, program("EC2 instance role and profile for batch workers.", _JSON_HEADER, *blocks), prose


def _role_fix(rng: random.Random) -> Program:
    given = fill('''
        import json

        import pulumi_aws as aws

        role = aws.iam.Role(
            "worker",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
        )

        aws.iam.RolePolicy("worker", role=role.id, policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }))''')
    config = 'config = pulumi.Config()\nfunction_name = config.get("functionName") or "invoice-worker"\n' \
             'role_name = f"{function_name}-execution"\n' \
             'queue_arn = config.require("queueArn")\nkms_key_arn = config.require("kmsKeyArn")\n' + _IDENTITY
    policy = _policy_block("least-privilege", [
        _statement(["logs:CreateLogStream", "logs:PutLogEvents"], _LOGS),
        _statement(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes"], "queue_arn"),
        _statement(["kms:Decrypt"], "kms_key_arn")], dynamic=False)
    blocks = [config, _trust('{"Service": "lambda.amazonaws.com"}'), policy, 'pulumi.export("role_arn", role.arn)']
    ask = rng.choice([
        "This Lambda role allows everything. The function only consumes one KMS-encrypted SQS queue and writes "
        "logs. Rewrite it in Pulumi with least privilege.",
        "Replace the Action * policy on this worker role: the Lambda just reads from one encrypted SQS queue and "
        "logs to CloudWatch.",
    ])
    prose = ("Action * on Resource * made the function an administrator, so any code bug or dependency compromise "
             "could reach the whole account. The new policy allows only what an SQS event source mapping needs on "
             "the one queue, kms:Decrypt on its key and writes to the function's own log group.")
    return Program(ask, program("Least-privilege role for the invoice worker Lambda.", _JSON_HEADER, *blocks),
                   prose, input=given)


# --- Secrets from stack config --------------------------------------------------------------------------------


def _secret_manager(rng: random.Random) -> Program:
    days = rng.choice([7, 30])
    blocks = [
        fill('''
            config = pulumi.Config()
            # Set with: pulumi config set --secret stripeApiKey <value>
            api_key = config.require_secret("stripeApiKey")
            reader_role_arn = config.require("readerRoleArn")'''),
        kms_key_block("key", "secret-key", '"Encrypts the Stripe API key secret"'),
        fill('''
            secret = aws.secretsmanager.Secret(
                "stripe-api-key",
                name="payments/stripe-api-key",
                kms_key_id=key.arn,
                recovery_window_in_days=$days,
            )

            aws.secretsmanager.SecretVersion("stripe-api-key", secret_id=secret.id, secret_string=api_key)

            aws.secretsmanager.SecretPolicy(
                "stripe-api-key",
                secret_arn=secret.arn,
                block_public_policy=True,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": reader_role_arn},
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
            )''', days=days),
        'pulumi.export("secret_arn", secret.arn)',
    ]
    ask = (f"Store our Stripe API key in AWS Secrets Manager with Pulumi (Python). The value must come from an "
           f"encrypted stack config entry, the secret uses its own KMS key and a {days}-day recovery window, and "
           "only one reader role may fetch it.")
    prose = ("require_secret keeps the key encrypted in the stack config and marks it secret in state, so Pulumi "
             "never prints it in previews or logs. The resource policy lets only the reader role call "
             f"GetSecretValue, and a {days}-day recovery window allows undoing an accidental delete.")
    return Program(ask, program("Stripe API key in Secrets Manager, sourced from encrypted config.", _JSON_HEADER,
                                *blocks), prose)


def _secure_parameter(rng: random.Random) -> Program:
    blocks = [
        fill('''
            config = pulumi.Config()
            # Set with: pulumi config set --secret datadogApiKey <value>
            datadog_api_key = config.require_secret("datadogApiKey")
            environment = pulumi.get_stack()'''),
        kms_key_block("key", "parameter-key", '"Encrypts observability SecureString parameters"'),
        fill('''
            parameter = aws.ssm.Parameter(
                "datadog-api-key",
                name=f"/{environment}/observability/datadog-api-key",
                type="SecureString",
                key_id=key.arn,
                value=datadog_api_key,
                tier="Standard",
                description="Datadog API key for the agents",
            )'''),
        'pulumi.export("parameter_name", parameter.name)',
    ]
    ask = ("Write a Pulumi Python program that stores the Datadog API key as an SSM SecureString under "
           "/<stack>/observability/, encrypted with a dedicated KMS key. Read the key from secret config.")
    prose = ("Unlike CloudFormation, Pulumi can create SecureString parameters, and the value flows from encrypted "
             "config straight into SSM without appearing in code or logs. A dedicated key lets you grant "
             "kms:Decrypt only to the roles that run the agents.")
    return Program(ask, program("Datadog API key as an SSM SecureString parameter.", AWS_HEADER, *blocks), prose)


def _db_credentials(rng: random.Random) -> Program:
    user = rng.choice(["app_rw", "orders_app"])
    blocks = [
        fill('''
            config = pulumi.Config()
            db_username = config.get("dbUsername") or "$user"
            # Set with: pulumi config set --secret dbPassword <value>
            db_password = config.require_secret("dbPassword")''', user=user),
        kms_key_block("key", "db-secret-key", '"Encrypts the database credentials"'),
        fill('''
            secret = aws.secretsmanager.Secret(
                "db-credentials",
                name="orders/db-credentials",
                description="Application credentials for the orders database",
                kms_key_id=key.arn,
            )

            aws.secretsmanager.SecretVersion(
                "db-credentials",
                secret_id=secret.id,
                secret_string=pulumi.Output.json_dumps({"username": db_username, "password": db_password}),
            )'''),
        'pulumi.export("secret_arn", secret.arn)',
    ]
    ask = (f"Pulumi Python: put database credentials (username {user}, password from an encrypted config value) "
           "into one Secrets Manager secret as JSON, encrypted with a new KMS key.")
    prose = ("Output.json_dumps keeps the secret flag of the password, so the combined JSON is still encrypted in "
             "state and masked in output. Applications read username and password together from one secret, and "
             "the customer-managed key lets you restrict who can decrypt it.")
    return Program(ask, program("Database credentials in Secrets Manager from encrypted config.", AWS_HEADER,
                                *blocks), prose)


def _replicated_secret(rng: random.Random) -> Program:
    region = rng.choice(["eu-central-1", "us-west-2"])
    blocks = [
        fill('''
            config = pulumi.Config()
            replica_region = config.get("replicaRegion") or "$region"
            replica_kms_key_arn = config.require("replicaKmsKeyArn")
            # Set with: pulumi config set --secret webhookSigningKey <value>
            signing_key = config.require_secret("webhookSigningKey")''', region=region),
        kms_key_block("key", "signing-key-cmk", '"Encrypts the webhook signing key"'),
        fill('''
            secret = aws.secretsmanager.Secret(
                "webhook-signing-key",
                name="partners/webhook-signing-key",
                kms_key_id=key.arn,
                replicas=[aws.secretsmanager.SecretReplicaArgs(region=replica_region, kms_key_id=replica_kms_key_arn)],
            )

            aws.secretsmanager.SecretVersion("webhook-signing-key", secret_id=secret.id, secret_string=signing_key)'''),
        'pulumi.export("secret_arn", secret.arn)',
    ]
    ask = (f"Our partner webhook signing key has to be readable in two regions. With Pulumi (Python), store it in "
           f"Secrets Manager from secret config, encrypt it with a new KMS key and replicate it to {region}.")
    prose = ("Secrets Manager replicates the value to the second region, so the standby stack verifies signatures "
             "without a cross-region call. KMS keys are regional, which is why the replica uses a key ARN from the "
             "replica region.")
    return Program(ask, program("Webhook signing key replicated to a second region.", AWS_HEADER, *blocks), prose)


def _redis_auth(rng: random.Random) -> Program:
    node = rng.choice(["cache.t4g.small", "cache.r7g.large"])
    blocks = [
        fill('''
            config = pulumi.Config()
            subnet_group_name = config.require("cacheSubnetGroup")
            security_group_id = config.require("cacheSecurityGroupId")
            # Set with: pulumi config set --secret redisAuthToken <16-128 characters>
            auth_token = config.require_secret("redisAuthToken")'''),
        kms_key_block("key", "cache-key", '"Encrypts the sessions cache at rest"'),
        fill('''
            cache = aws.elasticache.ReplicationGroup(
                "sessions",
                replication_group_id="sessions",
                description="Session cache with AUTH and TLS",
                engine="redis",
                engine_version="7.1",
                node_type="$node",
                num_cache_clusters=2,
                automatic_failover_enabled=True,
                multi_az_enabled=True,
                subnet_group_name=subnet_group_name,
                security_group_ids=[security_group_id],
                at_rest_encryption_enabled=True,
                kms_key_id=key.arn,
                transit_encryption_enabled=True,
                auth_token=auth_token,
                snapshot_retention_limit=7,
            )''', node=node),
        'pulumi.export("primary_endpoint", cache.primary_endpoint_address)',
    ]
    ask = (f"Create a Multi-AZ ElastiCache for Redis replication group ({node}, two nodes) with Pulumi in Python. "
           "Require TLS and an AUTH token read from encrypted stack config, encrypt data at rest with a KMS key and "
           "keep a week of snapshots.")
    prose = ("The AUTH token comes from require_secret, so it is encrypted in the stack and marked secret in "
             "state, and Redis only accepts it over TLS because transit encryption is on. Two nodes in different "
             "zones with automatic failover survive the loss of a zone, and snapshots are kept for seven days.")
    return Program(ask, program("Multi-AZ Redis replication group with AUTH and encryption.", AWS_HEADER, *blocks),
                   prose)


def examples(rng: random.Random) -> list[dict]:
    roles = [Program(*builder()) for builder in (_role_orders, _role_ecs, _role_github, _role_ec2)]
    roles.append(_role_fix(rng))
    secret_builders = (_secret_manager, _secure_parameter, _db_credentials, _replicated_secret, _redis_auth)
    secrets = [builder(rng) for builder in secret_builders]
    return finish(rng, roles + secrets)
