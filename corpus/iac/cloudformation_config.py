"""CloudFormation examples for configuration and secrets: SSM parameters and Secrets Manager secrets."""

from __future__ import annotations

import json
import random
from typing import Any

from .cloudformation import (
    Draft,
    GetAtt,
    Ref,
    Sub,
    draft,
    finish,
    fmt_phrase,
    kms_key,
    output,
    param,
    template,
)
from .cloudformation_security import allow, via_service

# --- SSM parameters -------------------------------------------------------------------------------------------

_ENVIRONMENTS = ["dev", "staging", "prod"]


def _env_params(app: str) -> dict:
    return {
        "AppName": param("Application name used in the parameter hierarchy.", app,
                         AllowedPattern="^[a-z][a-z0-9-]{1,30}$"),
        "Environment": param("Deployment environment.", "dev", AllowedValues=_ENVIRONMENTS),
    }


def _ssm_hierarchy(rng: random.Random, app: str, endpoint: str, origins: str) -> Draft:
    params = _env_params(app) | {
        "ApiEndpoint": param("Base URL of the upstream API.", endpoint, AllowedPattern="^https://.+$"),
        "AllowedOrigins": param("Comma-separated CORS origins.", origins),
    }
    resources = {
        "ApiEndpointParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": Sub("/${AppName}/${Environment}/api-endpoint"), "Type": "String", "Value": Ref("ApiEndpoint"),
            "Description": "Upstream API base URL", "Tier": "Standard",
            "Tags": {"app": Ref("AppName"), "environment": Ref("Environment")}}},
        "AllowedOriginsParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": Sub("/${AppName}/${Environment}/allowed-origins"), "Type": "StringList",
            "Value": Ref("AllowedOrigins"), "Description": "CORS origins accepted by the API", "Tier": "Standard",
            "Tags": {"app": Ref("AppName"), "environment": Ref("Environment")}}},
    }
    outputs = {"ParameterPath": output(Sub("/${AppName}/${Environment}/"), "Prefix for GetParametersByPath.")}
    doc = template(f"Runtime configuration for {app} in SSM Parameter Store.", params, resources, outputs)
    ask = rng.choice([
        f"Write a CloudFormation template that stores two non-secret settings for the {app} app in Parameter Store "
        f"under /<app>/<environment>/: the upstream API URL (must start with https://, default {endpoint}) as a "
        f"String and the allowed CORS origins ({origins}) as a StringList. Tag both with the app and environment.",
        f"Create SSM parameters with CloudFormation for {app}: an https-only api-endpoint String defaulting to "
        f"{endpoint} and an allowed-origins StringList defaulting to {origins}, both under /{app}/<env>/ where env "
        "is dev, staging or prod. Output the path prefix.",
    ])
    prose = ("Names follow /app/environment/key so services can load everything with one GetParametersByPath call "
             "and IAM policies can be scoped to the prefix. The https:// AllowedPattern rejects a plain-HTTP "
             "endpoint at deploy time, and only non-secret values live here because CloudFormation cannot create "
             "SecureString parameters.")
    return draft(ask, doc, "yaml", prose)


def _ssm_release(rng: random.Random, app: str, version: str, fmt: str, phrasing: int) -> Draft:
    params = _env_params(app) | {
        "ReleaseVersion": param("Semantic version the fleet should run.", version,
                                AllowedPattern="^[0-9]+\\.[0-9]+\\.[0-9]+$"),
        "ReaderRoleName": param("Name of the role that reads the parameter."),
    }
    name = "/${AppName}/${Environment}/release-version"
    resources = {
        "ReleaseParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": Sub(name), "Type": "String", "Value": Ref("ReleaseVersion"), "Tier": "Standard",
            "Description": "Release currently rolled out", "AllowedPattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"}},
        "ReadReleasePolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Description": "Read-only access to the release-version parameter",
            "Roles": [Ref("ReaderRoleName")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameterHistory"],
                "Resource": Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + name)}]}}},
    }
    outputs = {"ParameterName": output(Ref("ReleaseParameter"), "Name of the release parameter.")}
    doc = template(f"Release version pointer for {app} with a read-only policy.", params, resources, outputs)
    ask = [
        f"CloudFormation{fmt_phrase(fmt, rng)} for an SSM parameter holding the release version of {app} "
        f"(default {version}, only MAJOR.MINOR.PATCH accepted) plus a managed policy that lets one existing role "
        "read that single parameter and its history, nothing else.",
        f"Our deploy tooling reads the {app} version from Parameter Store. Write a template{fmt_phrase(fmt, rng)} "
        f"that creates /{app}/<env>/release-version with value {version}, validates semantic versions, and attaches "
        "a least-privilege read policy to a role whose name is passed in.",
    ][phrasing]
    prose = ("The version must match MAJOR.MINOR.PATCH both as a template parameter and on the SSM parameter, so a "
             "later manual put-parameter with a bad value is rejected too. The managed policy grants only "
             "GetParameter and GetParameterHistory on this one parameter ARN, which keeps the reader role least "
             "privilege.")
    return draft(ask, doc, fmt, prose)


def _ssm_ami(rng: random.Random, app: str, fmt: str) -> Draft:
    params = _env_params(app) | {"GoldenImageId": param("Approved AMI for the fleet.", type_="AWS::EC2::Image::Id")}
    resources = {"GoldenAmiParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": Sub("/${AppName}/${Environment}/golden-ami"), "Type": "String", "DataType": "aws:ec2:image",
        "Value": Ref("GoldenImageId"), "Description": "Approved AMI for launch templates",
        "Tags": {"app": Ref("AppName"), "environment": Ref("Environment")}}}}
    outputs = {"AmiParameterName": output(Ref("GoldenAmiParameter"), "Use as resolve:ssm in launch templates.",
                                          export="GoldenAmiParameter")}
    doc = template(f"Golden AMI pointer for {app}.", params, resources, outputs)
    ask = (f"Write CloudFormation{fmt_phrase(fmt, rng)} that publishes the approved AMI ID for {app} as an SSM "
           "parameter with the aws:ec2:image data type, so launch templates can reference it, and export its name.")
    prose = ("The aws:ec2:image data type makes Parameter Store verify that the value is an AMI that exists in this "
             "region, and the template parameter type does the same check before the stack changes. Launch "
             "templates can then use a {{resolve:ssm:...}} reference and pick up a new image without edits.")
    return draft(ask, doc, fmt, prose)


def _ssm_fix_password(rng: random.Random, app: str) -> Draft:
    given = template(f"{app} database settings.", {}, {
        "DbHost": {"Type": "AWS::SSM::Parameter",
                   "Properties": {"Name": f"/{app}/db-host", "Type": "String", "Value": f"{app}-db.internal"}},
        "DbPassword": {"Type": "AWS::SSM::Parameter",
                       "Properties": {"Name": f"/{app}/db-password", "Type": "String", "Value": "Sup3rS3cret!"}},
    })
    params = {"AppName": param("Application name.", app, AllowedPattern="^[a-z][a-z0-9-]{1,30}$"),
              "DbHost": param("Database host name.", f"{app}-db.internal")}
    resources = {
        "SecretKey": kms_key(f"Encrypts the {app} database secret"),
        "DbHostParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": Sub("/${AppName}/db-host"), "Type": "String", "Value": Ref("DbHost"),
            "Description": "Database host (not secret)"}},
        "DbCredentials": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Name": Sub("${AppName}/db-credentials"), "Description": Sub("Database credentials for ${AppName}"),
            "KmsKeyId": Ref("SecretKey"),
            "GenerateSecretString": {"SecretStringTemplate": json.dumps({"username": app.replace("-", "_")}),
                                     "GenerateStringKey": "password", "PasswordLength": 32,
                                     "ExcludeCharacters": "\"@/\\'"}}},
    }
    outputs = {"DbCredentialsArn": output(Ref("DbCredentials"), "Grant secretsmanager:GetSecretValue on this ARN.")}
    doc = template(f"{app} database settings: host in Parameter Store, credentials in Secrets Manager.",
                   params, resources, outputs)
    ask = rng.choice([
        "This template puts our database password in a plain SSM String parameter. Fix it properly.",
        "Review this template: the DB password is hard-coded in a String parameter. Rewrite it securely.",
    ])
    prose = ("The password was both hard-coded in the template and stored as a plain String, and CloudFormation "
             "cannot create SecureString parameters, so it moves to a Secrets Manager secret whose password is "
             "generated at deploy time and encrypted with a customer-managed key. The host stays in Parameter Store "
             "because it is not sensitive; rotate the old password, since it is in your template history.")
    return draft(ask, doc, "yaml", prose, given=given)


def _ssm(rng: random.Random) -> list[Draft]:
    return [
        _ssm_hierarchy(rng, "checkout", "https://api.payments.example.com", "https://shop.example.com"),
        _ssm_release(rng, "search-indexer", "2.14.0", "yaml", 0),
        _ssm_ami(rng, "batch-workers", "json"),
        _ssm_release(rng, "edge-proxy", "1.3.7", "json", 1),
        _ssm_fix_password(rng, "billing"),
    ]


# --- Secrets Manager ------------------------------------------------------------------------------------------

_EXCLUDE = "\"@/\\'"


def _secret(description: Any, generate: dict, key: Any, **extra: Any) -> dict:
    return {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": Ref("SecretName"), "Description": description, "KmsKeyId": key, "GenerateSecretString": generate,
        **extra}}


def _secret_params(name: str) -> dict:
    return {"SecretName": param("Name of the secret.", name, AllowedPattern="^[A-Za-z0-9/_+=.@-]{1,512}$")}


def _credentials(user: str, length: int) -> dict:
    return {"SecretStringTemplate": json.dumps({"username": user}), "GenerateStringKey": "password",
            "PasswordLength": length, "ExcludeCharacters": _EXCLUDE}


def _secret_outputs() -> dict:
    return {"SecretArn": output(Ref("Secret"), "Secret ARN; the value itself is never output.", export="SecretArn")}


def _db_credentials(rng: random.Random) -> Draft:
    length = rng.choice([32, 40])
    params = _secret_params("orders/db-credentials") | {"AppRoleArn": param("Role of the service that reads it.")}
    resources = {
        "Key": kms_key("Encrypts the orders database credentials"),
        "Secret": _secret("Credentials for the orders database", _credentials("orders_app", length), Ref("Key")),
        "SecretPolicy": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {
            "SecretId": Ref("Secret"), "BlockPublicPolicy": True, "ResourcePolicy": {
                "Version": "2012-10-17", "Statement": [{"Sid": "AllowAppRead", "Effect": "Allow",
                                                        "Principal": {"AWS": Ref("AppRoleArn")},
                                                        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}},
    }
    doc = template("Generated database credentials for the orders service.", params, resources, _secret_outputs())
    ask = (f"Write CloudFormation for a Secrets Manager secret with database credentials for the orders service: "
           f"username orders_app, a generated {length}-character password without quotes, @, / or backslashes, a "
           "new KMS key, and a resource policy that lets only the app role read it.")
    prose = (f"The {length}-character password is generated by Secrets Manager during deployment, so it never "
             "appears in the template, parameters or stack events, and characters that break connection strings are "
             "excluded. BlockPublicPolicy rejects any future policy that would expose the secret, and only its ARN "
             "is output.")
    return draft(ask, doc, "yaml", prose)


def _api_key(rng: random.Random) -> Draft:
    length = rng.choice([40, 48])
    params = _secret_params("partner-gateway/api-key") | {
        "KmsKeyArn": param("Existing KMS key for the secret.", AllowedPattern="^arn:aws[a-z-]*:kms:.+$")}
    resources = {"Secret": _secret("API key issued to the partner gateway",
                                   {"PasswordLength": length, "ExcludePunctuation": True, "IncludeSpace": False},
                                   Ref("KmsKeyArn"), Tags=[{"Key": "owner", "Value": "partner-integrations"}])}
    doc = template("Generated API key for the partner gateway.", params, resources, _secret_outputs())
    ask = (f"CloudFormation{fmt_phrase('json', rng)}: generate a {length}-character alphanumeric API key in Secrets "
           "Manager for the partner gateway, encrypted with an existing KMS key passed as a parameter.")
    prose = ("Punctuation is excluded so the key can be sent in headers and URLs without escaping. Encrypting with "
             "your own key lets you restrict decryption in the key policy, which the AWS managed key cannot do.")
    return draft(ask, doc, "json", prose)


def _replicated(rng: random.Random) -> Draft:
    region = rng.choice(["eu-west-1", "us-west-2"])
    params = _secret_params("payments/signing-secret") | {
        "ReplicaRegion": param("Region that receives a replica.", region),
        "ReplicaKmsKeyArn": param("KMS key in the replica region.")}
    resources = {
        "Key": kms_key("Encrypts the primary copy of the signing secret"),
        "Secret": _secret("HMAC signing secret shared by both regions",
                          {"PasswordLength": 64, "ExcludePunctuation": True}, Ref("Key"),
                          ReplicaRegions=[{"Region": Ref("ReplicaRegion"), "KmsKeyId": Ref("ReplicaKmsKeyArn")}]),
    }
    doc = template("Signing secret replicated to a second region.", params, resources, _secret_outputs())
    ask = (f"I run payments in two regions. Create a generated 64-character signing secret with CloudFormation, "
           f"encrypted with a new KMS key and replicated to {region} under a key from that region.")
    prose = ("Secrets Manager keeps the replica in sync, so both regions read the same value locally and the "
             "standby region does not depend on the primary during an outage. KMS keys are regional, so the replica "
             "is encrypted with a key that lives in the replica region.")
    return draft(ask, doc, "yaml", prose)


def _rotated(rng: random.Random) -> Draft:
    days = rng.choice([30, 60])
    params = _secret_params("reporting/db-credentials") | {
        "RotationFunctionArn": param("Rotation Lambda for this database engine."),
        "RotationDays": param("Days between rotations.", days, type_="Number", MinValue=1, MaxValue=365)}
    resources = {
        "Key": kms_key("Encrypts the reporting database credentials"),
        "Secret": _secret("Reporting database credentials, rotated automatically",
                          _credentials("reporting", 32), Ref("Key")),
        "RotationSchedule": {"Type": "AWS::SecretsManager::RotationSchedule", "Properties": {
            "SecretId": Ref("Secret"), "RotationLambdaARN": Ref("RotationFunctionArn"),
            "RotateImmediatelyOnUpdate": False,
            "RotationRules": {"AutomaticallyAfterDays": Ref("RotationDays")}}},
    }
    doc = template("Reporting database credentials with scheduled rotation.", params, resources, _secret_outputs())
    ask = (f"Create database credentials for the reporting user in Secrets Manager with CloudFormation and rotate "
           f"them every {days} days using an existing rotation Lambda. Encrypt with a new customer-managed key.")
    prose = (f"Automatic rotation every {days} days limits how long a leaked password stays valid, and "
             "RotateImmediatelyOnUpdate is off so the first rotation waits for the schedule instead of racing the "
             "database setup. The rotation function's role needs kms:Decrypt and kms:GenerateDataKey on this key.")
    return draft(ask, doc, "yaml", prose)


def _reader_policy(rng: random.Random) -> Draft:
    params = _secret_params("search/opensearch-admin") | {"ReaderRoleName": param("Role that reads the secret.")}
    resources = {
        "Key": kms_key("Encrypts the OpenSearch admin secret"),
        "Secret": _secret("Admin credentials for the search cluster", _credentials("admin", 24), Ref("Key")),
        "ReadSecretPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Description": "Read one secret and decrypt it through Secrets Manager only",
            "Roles": [Ref("ReaderRoleName")], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                allow("ReadSecret", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                           Ref("Secret")),
                allow("DecryptViaSecretsManager", ["kms:Decrypt"], GetAtt("Key", "Arn"),
                           via_service("secretsmanager"))]}}},
    }
    doc = template("OpenSearch admin secret with a least-privilege read policy.", params, resources, _secret_outputs())
    ask = ("Write a CloudFormation template that generates OpenSearch admin credentials (user admin, 24-character "
           "password) in a KMS-encrypted secret and attaches a managed policy to an existing role so it can read "
           "just that secret.")
    prose = ("The policy names the one secret ARN and allows kms:Decrypt only when Secrets Manager makes the call, "
             "so the role cannot decrypt anything else with the key. Generating the password at deploy time keeps it "
             "out of source control and CloudFormation parameters.")
    return draft(ask, doc, "yaml", prose)


def _listed(rng: random.Random) -> Draft:
    params = _secret_params("ci/deploy-token") | {"CiRoleArn": param("CI role that reads the token.")}
    resources = {
        "Key": kms_key("Encrypts the CI deploy token", window=7),
        "Secret": _secret("Deploy token used by the CI pipeline", {"PasswordLength": 50, "ExcludePunctuation": True},
                          Ref("Key"), Tags=[{"Key": "owner", "Value": "platform"}]),
        "SecretPolicy": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {
            "SecretId": Ref("Secret"), "BlockPublicPolicy": True, "ResourcePolicy": {
                "Version": "2012-10-17", "Statement": [{"Sid": "AllowCiRead", "Effect": "Allow",
                                                        "Principal": {"AWS": Ref("CiRoleArn")},
                                                        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}},
    }
    doc = template("CI deploy token in Secrets Manager.", params, resources, _secret_outputs())
    reqs = "\n".join(["- Name ci/deploy-token, overridable", "- 50 random alphanumeric characters, generated by AWS",
                      "- Encrypted with a new KMS key (7-day deletion window)", "- Only the CI role may read it",
                      "- Tag owner=platform", "- Output the ARN, never the value"])
    prose = ("Secrets Manager generates the token, so no one has to paste it into a parameter, and the resource "
             "policy grants GetSecretValue to the CI role alone with BlockPublicPolicy on. The short deletion window "
             "suits a token that can be reissued.")
    return draft("Create the secret described below with CloudFormation.", doc, "yaml", prose, given=reqs)


def examples(rng: random.Random) -> list[dict]:
    secrets = [family(rng) for family in (_db_credentials, _api_key, _replicated, _rotated, _reader_policy, _listed)]
    return finish(rng, _ssm(rng) + secrets)
