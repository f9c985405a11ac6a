"""CloudFormation examples for container registries: ECR repositories with scanning, KMS and lifecycle rules."""

from __future__ import annotations

import json
import random
from typing import Any

from .cloudformation import (
    Draft,
    GetAtt,
    Ref,
    days,
    draft,
    finish,
    fmt_phrase,
    output,
    param,
    template,
)
from .cloudformation_storage import encryption_key, join_words

# --- ECR ------------------------------------------------------------------------------------------------------

_ECR = [
    {"repo": "payments/api", "kms": "new", "untagged": 7, "keep": 30, "prefixes": ["v"], "fmt": "yaml"},
    {"repo": "ml/inference", "kms": "param", "untagged": 3, "keep": 10, "prefixes": [], "fmt": "json",
     "pull": "accounts"},
    {"repo": "platform/base-images", "kms": "new", "untagged": 1, "keep": 20, "prefixes": ["base-"], "fmt": "yaml",
     "pull": "org"},
    {"repo": "data/etl-jobs", "kms": "new", "untagged": 1, "keep": 15, "prefixes": ["release-", "hotfix-"],
     "fmt": "json"},
    {"repo": "web/frontend", "kms": "new", "untagged": 14, "keep": 50, "prefixes": ["v"], "fmt": "yaml",
     "push": True},
]

_ECR_ASKS = [
    "Write a CloudFormation template{fmt} for the ECR repository {repo}: {reqs}.",
    "Create an Amazon ECR repository with CloudFormation{fmt} (default name {repo}) with {reqs}.",
    "CloudFormation{fmt} for a private container registry repository, {repo} by default. Needs {reqs}.",
]


def _lifecycle(spec: dict) -> dict:
    keep: dict[str, Any] = {"tagStatus": "tagged", "tagPrefixList": spec["prefixes"]} if spec["prefixes"] else {
        "tagStatus": "any"}
    return {"rules": [
        {"rulePriority": 1, "description": f"Expire untagged images after {days(spec['untagged'])}",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": spec["untagged"]}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the {spec['keep']} newest images",
         "selection": keep | {"countType": "imageCountMoreThan", "countNumber": spec["keep"]},
         "action": {"type": "expire"}},
    ]}


def _ecr_requirements(spec: dict) -> list[str]:
    kept = f"tags starting with {' or '.join(spec['prefixes'])}" if spec["prefixes"] else "images"
    reqs = ["immutable tags", "scan on push",
            "KMS encryption with " + ("a new key" if spec["kms"] == "new" else "an existing key"),
            f"a lifecycle policy that removes untagged images after {days(spec['untagged'])} and keeps only "
            f"the {spec['keep']} newest {kept}"]
    if spec.get("pull") == "accounts":
        reqs.append("pull-only access for a list of other-account roles")
    if spec.get("pull") == "org":
        reqs.append("pull access for every account in our AWS Organization")
    if spec.get("push"):
        reqs.append("push and pull rights for the CI role")
    return reqs


def _ecr_doc(spec: dict, fmt: str) -> dict:
    params: dict[str, Any] = {"RepositoryName": param("Repository name.", spec["repo"],
                                                      AllowedPattern="^[a-z0-9]+([._/-][a-z0-9]+)*$")}
    resources: dict[str, Any] = {}
    key_arn = encryption_key(spec, params, resources, f"{spec['repo']} images")
    pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    statements = []
    if spec.get("pull") == "accounts":
        params["PullPrincipalArns"] = param("IAM role ARNs in other accounts that may pull.",
                                            type_="CommaDelimitedList")
        statements.append({"Sid": "CrossAccountPull", "Effect": "Allow",
                           "Principal": {"AWS": Ref("PullPrincipalArns")}, "Action": pull})
    if spec.get("pull") == "org":
        params["OrganizationId"] = param("AWS Organizations ID (o-...).", AllowedPattern="^o-[a-z0-9]{10,32}$")
        statements.append({"Sid": "OrganizationPull", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": pull,
                           "Condition": {"StringEquals": {"aws:PrincipalOrgID": Ref("OrganizationId")}}})
    if spec.get("push"):
        params["CiRoleArn"] = param("Role used by the CI pipeline to push images.")
        statements.append({"Sid": "CiPushPull", "Effect": "Allow", "Principal": {"AWS": Ref("CiRoleArn")},
                           "Action": [*pull, "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                                      "ecr:CompleteLayerUpload", "ecr:PutImage"]})
    policy_text = json.dumps(_lifecycle(spec), indent=None if fmt == "json" else 2)
    props: dict[str, Any] = {
        "RepositoryName": Ref("RepositoryName"),
        "ImageTagMutability": "IMMUTABLE",
        "ImageScanningConfiguration": {"ScanOnPush": True},
        "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": key_arn},
        "LifecyclePolicy": {"LifecyclePolicyText": policy_text + ("" if fmt == "json" else "\n")},
    }
    if statements:
        props["RepositoryPolicyText"] = {"Version": "2012-10-17", "Statement": statements}
    resources["Repository"] = {"Type": "AWS::ECR::Repository", "DeletionPolicy": "Retain",
                               "UpdateReplacePolicy": "Retain", "Properties": props}
    outputs = {"RepositoryUri": output(GetAtt("Repository", "RepositoryUri"), "URI for docker push and pull."),
               "RepositoryArn": output(GetAtt("Repository", "Arn"), "Repository ARN.", export="RepositoryArn")}
    return template(f"Private ECR repository for {spec['repo']}.", params, resources, outputs)


def _ecr_prose(spec: dict) -> str:
    parts = ["Immutable tags mean a tag always points at the same digest, so a deployment cannot silently change, "
             "and scan on push reports known CVEs as soon as an image lands."]
    parts.append("Layers are encrypted with " + ("a dedicated rotating KMS key" if spec["kms"] == "new"
                 else "your existing KMS key") + f", and the lifecycle policy drops untagged layers after "
                 f"{days(spec['untagged'])} while keeping the {spec['keep']} newest images for rollbacks.")
    if spec.get("pull") == "org":
        parts.append("The aws:PrincipalOrgID condition limits the pull grant to principals in your organization, "
                     "so new accounts get access without policy edits and nobody outside can pull.")
    elif spec.get("pull"):
        parts.append("The repository policy grants only the three pull actions to the listed roles; they also need "
                     "kms:Decrypt on the key and ecr:GetAuthorizationToken in their own accounts.")
    elif spec.get("push"):
        parts.append("The CI role gets the layer upload and PutImage actions on this repository only.")
    return " ".join(parts)


def _ecr(rng: random.Random) -> list[Draft]:
    asks = _ECR_ASKS * 2
    rng.shuffle(asks)
    drafts = []
    for spec, ask in zip(_ECR, asks, strict=False):
        instruction = ask.format(fmt=fmt_phrase(spec["fmt"], rng), repo=spec["repo"],
                                 reqs=join_words(_ecr_requirements(spec)))
        drafts.append(draft(instruction, _ecr_doc(spec, spec["fmt"]), spec["fmt"], _ecr_prose(spec)))
    fixed = {"repo": "checkout/worker", "kms": "new", "untagged": 5, "keep": 25, "prefixes": ["v"]}
    given = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"WorkerRepo": {
        "Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "checkout/worker",
                                                       "ImageTagMutability": "MUTABLE"}}}}
    ask = ("Fix this ECR repository: tags can be overwritten, nothing is scanned and images pile up forever. "
           "Use KMS encryption too, and keep the 25 newest v-tagged images.")
    drafts.append(draft(ask, _ecr_doc(fixed, "yaml"), "yaml", _ecr_prose(fixed), given=given))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _ecr(rng))
