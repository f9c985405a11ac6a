"""Terraform for AWS: SSM SecureString parameters and Secrets Manager secrets, never with a literal secret value."""

from __future__ import annotations

import random

from .terraform_aws import (
    APPS,
    ENVS,
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

PARAMS = [
    # (resource name, path suffix, description, why it might need the Advanced tier)
    ("db_password", "db/password", "database password", False),
    ("api_token", "integrations/partner-api-token", "partner API token", False),
    ("jwt_signing_key", "auth/jwt-signing-key", "JWT signing key (PEM)", True),
    ("webhook_secret", "webhooks/hmac-secret", "webhook HMAC secret", False),
    ("smtp_password", "mail/smtp-password", "SMTP relay password", False),
    ("tls_private_key", "tls/private-key", "TLS private key (PEM)", True),
    ("license_key", "vendor/license-key", "commercial license key", False),
    ("oauth_client_secret", "auth/oauth-client-secret", "OAuth client secret", False),
]

SSM_TEMPLATE = """
@header@
@caller@@vars@@key@
resource "aws_ssm_parameter" "secret" {
  name        = "/@env@/@app@/@path@"
  description = "@desc@ for @app@ (@env@)"
  type        = "SecureString"
  tier        = "@tier@"
  key_id      = @key_arn@
  value       = var.@var@
}
@reader@
output "parameter_name" {
  value = aws_ssm_parameter.secret.name
}
"""

SSM_READER = """
# Read access for one role only, limited to this application's path and to decrypting with this key.
resource "aws_iam_role_policy" "read_parameters" {
  name = "read-@app@-@env@-parameters"
  role = var.reader_role_name

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadAppParameters"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
        Resource = "arn:aws:ssm:@region@:${data.aws_caller_identity.current.account_id}:parameter/@env@/@app@/*"
      },
      {
        Sid      = "DecryptWithParameterKey"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = @key_arn@
      }
    ]
  })
}
"""


def ssm_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Store the {desc} for {app} ({env}) in SSM Parameter Store with Terraform, region {region}.",
        "Write Terraform that keeps our {desc} as an encrypted SSM parameter under /{env}/{app}/.",
        "Create a SecureString parameter for the {app} {desc} in {region}.",
        "I want the {env} {desc} of the {app} service in Parameter Store instead of in the repo.",
    ]
    drafts = []
    apps, params = rng.sample(APPS, n), rng.sample(PARAMS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        var, path, desc, big = params[i]
        tier = "Advanced" if big else "Standard"
        own_key, reader = i % 2 == 0, rng.random() < 0.7
        vars_ = var_block(var, f"The {desc}; supply it from a secret store or TF_VAR_{var}, never a tfvars file.",
                          sensitive=True)
        if not own_key:
            vars_ += var_block("kms_key_arn", "Customer-managed KMS key for the parameter.")
        if reader:
            vars_ += var_block("reader_role_name", "Name of the IAM role that reads the parameter at runtime.")
        key_arn = "aws_kms_key.params.arn" if own_key else "var.kms_key_arn"
        code = render(
            SSM_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            caller='data "aws_caller_identity" "current" {}\n' if own_key or reader else "",
            key=kms_key("params", f"SSM parameters under /{env}/{app}", f"ssm-{app}-{env}",
                        rng.choice([7, 14, 30])) if own_key else "",
            env=env, app=app, path=path, desc=desc[0].upper() + desc[1:], tier=tier, key_arn=key_arn, var=var,
            reader=render(SSM_READER, app=app, env=env, region=region, key_arn=key_arn) if reader else "")
        clauses = [
            "name it /{env}/{app}/{path}",
            "encrypt it with " + ("a dedicated customer-managed KMS key" if own_key else "an existing CMK given as "
                                                                                        "a variable"),
            ("take the value from a sensitive variable rather than hard-coding it",
             "never put the value in the code"),
            "use the {tier} tier" + (" because the value can exceed 4 KB" if big else ""),
        ]
        if reader:
            clauses.append("give one IAM role (by name) read and decrypt access to the /{env}/{app}/ path only")
        fields = dict(desc=desc, app=app, env=env, region=region, path=path, tier=tier)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 5:
            inp = (f'resource "aws_ssm_parameter" "{var}" {{\n  name  = "/{env}/{app}/{path}"\n'
                   f'  type  = "String"\n  value = "s3cr3t-{app}-2024"\n}}\n')
            instruction = ("This parameter keeps a secret in plain text and in our Git history. Fix it: encrypt it, "
                           "stop hard-coding the value, and scope who can read it.")
        text = prose(rng, [
            "The value is a SecureString encrypted with a customer-managed KMS key, and it comes from a variable "
            "marked sensitive, so it never appears in code or plan output.",
            "It still lands in Terraform state, so keep state in an encrypted backend with restricted access.",
            "The read policy is scoped to this application's parameter path and to kms:Decrypt on this key only."
            if reader else f"The {tier} tier is enough for a value of this size.",
            "Rotate the value by updating the variable and re-applying; consumers read it at runtime.",
        ])
        if i == 5:
            text = ("The literal value is gone: it is now a sensitive variable, and the parameter is a KMS-encrypted "
                    "SecureString. Because the old value is in Git history, treat it as leaked and rotate it. "
                    + ("Read access is limited to one role and this application's path." if reader else ""))
        drafts.append(Draft(instruction, code, text.strip(), inp))
    return drafts


SECRET_KINDS = [
    # (slug, description, rotated by a Lambda, generated initial value, identity field, secret field)
    ("db-credentials", "PostgreSQL application user credentials", True, False, "username", "password"),
    ("db-admin", "MySQL admin credentials", True, True, "username", "password"),
    ("redis-auth", "Redis AUTH token", True, True, "", ""),
    ("partner-api-key", "partner API key", False, False, "", ""),
    ("oauth-client", "OAuth client credentials", True, False, "client_id", "client_secret"),
    ("ldap-bind", "LDAP bind account password", True, True, "bind_dn", "password"),
    ("service-token", "internal service-to-service token", True, True, "", ""),
    ("smtp", "SMTP relay credentials", False, False, "username", "password"),
]

SECRET_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@vars@@key@
resource "aws_secretsmanager_secret" "this" {
  name                    = "@env@/@app@/@slug@"
  description             = "@desc@ for @app@"
  kms_key_id              = aws_kms_key.secret.arn
  recovery_window_in_days = @recovery@
@replica@}
@generated@
resource "aws_secretsmanager_secret_version" "initial" {
  secret_id     = aws_secretsmanager_secret.this.id
  secret_string = @secret_string@
@ignore@}
@rotation@@policy@
output "secret_arn" {
  value = aws_secretsmanager_secret.this.arn
}
"""

SECRET_ROTATION = """
resource "aws_secretsmanager_secret_rotation" "this" {
  secret_id           = aws_secretsmanager_secret.this.id
  rotation_lambda_arn = var.rotation_lambda_arn

  rotation_rules {
    @rule@
  }
}
"""

SECRET_POLICY = """
resource "aws_secretsmanager_secret_policy" "this" {
  secret_arn          = aws_secretsmanager_secret.this.arn
  block_public_policy = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ReadByApplicationRole"
        Effect    = "Allow"
        Principal = { AWS = var.reader_role_arn }
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "*"
      }
    ]
  })
}
"""


def _secret_string(id_field: str, secret_field: str, generated: bool) -> str:
    value = "data.aws_secretsmanager_random_password.initial.random_password" if generated else "var.initial_value"
    if not id_field:
        return value
    return f"jsonencode({{\n    {id_field} = var.{id_field}\n    {secret_field} = {value}\n  }})"


def secrets_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a Secrets Manager secret for the {desc} of {app} in {region}.",
        "Terraform for storing the {env} {app} {desc} in AWS Secrets Manager.",
        "I need the {desc} for {app} ({env}) managed in Secrets Manager, written in Terraform.",
        "Put the {app} {desc} into Secrets Manager ({region}, {env}).",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        slug, desc, rotated, generated, id_field, secret_field = SECRET_KINDS[i % len(SECRET_KINDS)]
        recovery = 30 if env == "prod" else rng.choice([7, 14, 30])
        days = rng.choice([7, 14, 30, 60, 90])
        use_cron = rotated and rng.random() < 0.4
        rule = (f'schedule_expression = "cron(0 {rng.choice([2, 3, 4])} ? * {rng.choice(["SUN", "SAT", "WED"])} *)"'
                if use_cron else f"automatically_after_days = {days}")
        replica = (not rotated or rng.random() < 0.25) and i % 2 == 1
        replica_region = rng.choice([r for r in REGIONS if r != region])
        policy = not replica and rng.random() < 0.6
        length = rng.choice([32, 40, 48, 64])
        vars_ = var_block(id_field, f"Non-secret identity stored next to the {secret_field}.") if id_field else ""
        if not generated:
            vars_ += var_block("initial_value", f"Initial value of the {desc}; rotation replaces it.",
                               sensitive=True)
        if rotated:
            vars_ += var_block("rotation_lambda_arn", "Rotation function that Secrets Manager may invoke.")
        if replica:
            vars_ += var_block("replica_kms_key_arn", f"CMK in {replica_region} for the replica.")
        if policy:
            vars_ += var_block("reader_role_arn", "The only role allowed to read the secret.")
        gen = render("""
# Generated by Secrets Manager at first apply; ignore_changes stops this data source from re-rolling it.
data "aws_secretsmanager_random_password" "initial" {
  password_length     = @length@
  exclude_punctuation = true
}
""", length=length)
        code = render(
            SECRET_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            key=kms_key("secret", f"Secrets Manager secret {env}/{app}/{slug}", f"secrets-{app}-{env}"),
            env=env, app=app, slug=slug, desc=desc[0].upper() + desc[1:], recovery=recovery,
            replica=(f'\n  replica {{\n    region     = "{replica_region}"\n'
                     "    kms_key_id = var.replica_kms_key_arn\n  }\n" if replica else ""),
            generated=gen if generated else "",
            secret_string=_secret_string(id_field, secret_field, generated),
            ignore=("\n  lifecycle {\n    ignore_changes = [secret_string]\n  }\n" if generated or rotated else ""),
            rotation=SECRET_ROTATION.replace("@rule@", rule) if rotated else "",
            policy=SECRET_POLICY if policy else "")
        clauses = [
            ("encrypt it with its own customer-managed KMS key", "use a dedicated CMK"),
            ("keep a {recovery}-day recovery window", "allow {recovery} days to undo a deletion"),
            ("let Secrets Manager generate a {length}-character initial password" if generated
             else "take the initial value from a sensitive variable"),
        ]
        if rotated:
            clauses.append("rotate it with an existing Lambda " + (f"on the schedule {rule.split('= ')[1]}"
                                                                    if use_cron else "every {days} days"))
        if replica:
            clauses.append("replicate it to {replica_region}")
        if policy:
            clauses.append("allow only one application role to read it")
        fields = dict(desc=desc, app=app, env=env, region=region, recovery=recovery, length=length, days=days,
                      replica_region=replica_region)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 6:
            inp = "\n".join([f"Secret: {desc} for {app}", f"Region: {region}", "Encryption: dedicated CMK",
                             "Initial value: " + ("generated by AWS" if generated else "provided at deploy time"),
                             "Rotation: " + ("yes, existing Lambda" if rotated else "no"),
                             f"Recovery window: {recovery} days"])
            instruction = "Here is the secret spec from our runbook; turn it into Terraform."
        text = prose(rng, [
            "The secret is encrypted with a dedicated customer-managed key, so access needs both Secrets Manager "
            "and KMS permissions.",
            ("The initial password is generated by Secrets Manager, so no human ever sees or types it"
             if generated else "The initial value comes from a sensitive variable, never from the code")
            + "; it does end up in Terraform state, which therefore needs an encrypted backend.",
            "Rotation runs through the existing Lambda, and ignore_changes on the secret value stops Terraform "
            "from rolling back a rotated password." if rotated else
            "This value is issued by a third party, so it is rotated by hand when the provider re-issues it.",
            f"A {recovery}-day recovery window means an accidental delete can be undone.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, ssm_family(rng, 8) + secrets_family(rng, 9))
