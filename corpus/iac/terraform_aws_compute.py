"""Terraform for AWS: ECR repositories and EBS-encrypted EC2 launch templates."""

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

ECR_TEMPLATE = """
@header@
@caller@@vars@@kms@
resource "aws_ecr_repository" "this" {
  name                 = "@repo@"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = @key_arn@
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after @untagged@ days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = @untagged@
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest @keep@ images tagged @prefix@*"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["@prefix@"]
          countType     = "imageCountMoreThan"
          countNumber   = @keep@
        }
        action = { type = "expire" }
      }
    ]
  })
}
@pull@@enhanced@
output "repository_url" {
  value = aws_ecr_repository.this.repository_url
}
"""

ECR_PULL = """
resource "aws_ecr_repository_policy" "pull" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CrossAccountPull"
        Effect    = "Allow"
        Principal = { AWS = [for id in var.pull_account_ids : "arn:aws:iam::${id}:root"] }
        Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      }
    ]
  })
}
"""

ECR_ENHANCED = """
# Registry-wide setting: continuous Inspector scanning catches CVEs published after the image was pushed.
resource "aws_ecr_registry_scanning_configuration" "this" {
  scan_type = "ENHANCED"

  rule {
    scan_frequency = "CONTINUOUS_SCAN"

    repository_filter {
      filter      = "@ns@/*"
      filter_type = "WILDCARD"
    }
  }
}
"""


def ecr_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an ECR repository {repo} in {region} for the {app} service images.",
        "Write Terraform for a private container registry repo named {repo} ({env}, {region}).",
        "Terraform: ECR repository for {app}. Name it {repo} and put it in {region}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region, org = apps[i], rng.choice(ENVS), rng.choice(REGIONS), rng.choice(ORGS)
        ns = rng.choice([org, "services", "platform", env])
        repo = f"{ns}/{app}-{rng.choice(['api', 'worker', 'web', 'consumer', 'cron'])}"
        untagged, keep = rng.choice([2, 3, 7, 14]), rng.choice([10, 20, 30, 50, 100])
        prefix = rng.choice(["v", "release-", "prod-", "build-"])
        own_key, pull, enhanced = i % 2 == 0, rng.random() < 0.5, rng.random() < 0.4
        if own_key and pull:
            enhanced = False
        vars_ = "" if own_key else var_block("kms_key_arn", "Existing KMS key for ECR image layers.")
        if pull:
            vars_ += var_block("pull_account_ids", "Accounts whose workloads may pull images.", "list(string)")
        code = render(
            ECR_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            caller='data "aws_caller_identity" "current" {}\n' if own_key else "",
            kms=kms_key("ecr", f"Encrypts images in {repo}", f"ecr-{repo.replace('/', '-')}") if own_key else "",
            repo=repo, key_arn="aws_kms_key.ecr.arn" if own_key else "var.kms_key_arn", untagged=untagged,
            keep=keep, prefix=prefix, pull=ECR_PULL if pull else "",
            enhanced=ECR_ENHANCED.replace("@ns@", ns) if enhanced else "")
        clauses = [
            ("make tags immutable", "never allow a tag to be overwritten"),
            ("scan images on push", "run a vulnerability scan on every push"),
            "encrypt with " + ("a dedicated customer-managed KMS key" if own_key
                               else "a KMS key passed in as a variable"),
            ("expire untagged images after {untagged} days", "clean up untagged layers older than {untagged} days"),
            ("keep only the latest {keep} images whose tags start with {prefix}",
             "retain at most {keep} {prefix}* images"),
        ]
        if pull:
            clauses.append("let a list of other AWS accounts pull (but not push) images")
        if enhanced:
            clauses.append("enable continuous enhanced scanning for the {ns}/ repositories")
        fields = dict(repo=repo, region=region, app=app, env=env, untagged=untagged, keep=keep, prefix=prefix, ns=ns)
        instruction = compose(rng, openers, clauses, **fields)
        text = prose(rng, [
            "Immutable tags mean a deployed tag always refers to the same image digest, so a rollback or an audit "
            "sees exactly what ran.",
            "Images are scanned on push and encrypted with a customer-managed KMS key rather than the AWS-owned "
            "default.",
            f"The lifecycle policy removes untagged layers after {untagged} days and keeps the newest {keep} "
            f"{prefix}* images, which bounds storage cost.",
            "The repository policy grants only the three read actions to the listed accounts." if pull else
            "force_delete stays false so Terraform cannot destroy a repository that still holds images.",
        ])
        drafts.append(Draft(instruction, code, text))
    return drafts


INSTANCE_TYPES = [("t3.medium", "x86_64"), ("m7i.large", "x86_64"), ("c7i.xlarge", "x86_64"), ("m6i.large", "x86_64"),
                  ("r7i.large", "x86_64"), ("t4g.medium", "arm64"), ("m7g.large", "arm64"), ("c7g.xlarge", "arm64")]

WORKLOADS = [
    # (slug, description, metadata hop limit: containers need a second hop to reach IMDS)
    ("web", "web servers behind a load balancer", 1),
    ("ecs", "ECS container instances", 2),
    ("worker", "queue workers", 1),
    ("eks", "EKS self-managed nodes", 2),
    ("batch", "nightly batch hosts", 1),
    ("ci", "CI build runners", 1),
]

ASG_ROLE = ('"arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/'
            'autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"')

LT_TEMPLATE = """
@header@
@caller@@vars@
data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-@arch@"
}
@kms@
resource "aws_launch_template" "this" {
  name_prefix            = "@name@-"
  image_id               = data.aws_ssm_parameter.al2023.insecure_value
  instance_type          = "@type@"
  vpc_security_group_ids = var.security_group_ids
  ebs_optimized          = true
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = @hop@
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_type           = "gp3"
      volume_size           = @root@
      encrypted             = true
      kms_key_id            = @key_arn@
      delete_on_termination = true
    }
  }
@data_volume@
  # default_tags do not reach instances and volumes launched from a template, so tag them here.
  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume"])

    content {
      resource_type = tag_specifications.value
      tags          = { Name = "@name@", Environment = "@env@" }
    }
  }
}
@default_enc@
output "launch_template_id" {
  value = aws_launch_template.this.id
}
"""


def launch_template_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Write a launch template for the {env} {app} {wdesc} in {region}, using {itype} instances.",
        "I need an EC2 launch template ({itype}, {region}) for {app}: the {wdesc}.",
        "Terraform for an EBS-encrypted launch template named {name} that runs {wdesc} on {itype}.",
        "Create the launch template for {app} {wdesc} ({env}); instance type {itype}, region {region}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        itype, arch = rng.choice(INSTANCE_TYPES)
        slug, wdesc, hop = WORKLOADS[i % len(WORKLOADS)]
        name = f"{app}-{slug}-{env}"
        root = rng.choice([20, 30, 40, 50])
        own_key = i % 3 == 0
        # The Auto Scaling key policy already makes the own-key variant long; keep the account setting out of it.
        by_default = not own_key and rng.random() < 0.5
        data_size = 0 if own_key else rng.choice([0, 100, 200, 500])
        vars_ = var_block("security_group_ids", "Security groups attached to the instances.", "list(string)")
        vars_ += var_block("instance_profile_name", "Instance profile carrying the least-privilege instance role.")
        if not own_key:
            vars_ += var_block("ebs_kms_key_arn", "Customer-managed KMS key for EBS volumes.")
        asg_use = {"Sid": '"AllowAutoScalingServiceLinkedRole"', "Effect": '"Allow"',
                   "Principal": f"{{ AWS = {ASG_ROLE} }}",
                   "Action": '["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", '
                             '"kms:DescribeKey", "kms:CreateGrant"]',
                   "Resource": '"*"'}
        key_arn = "aws_kms_key.ebs.arn" if own_key else "var.ebs_kms_key_arn"
        data_volume = ""
        if data_size:
            data_volume = render("""
  block_device_mappings {
    device_name = "/dev/xvdb"

    ebs {
      volume_type           = "gp3"
      volume_size           = @size@
      throughput            = @tp@
      encrypted             = true
      kms_key_id            = @key@
      delete_on_termination = @delete@
    }
  }
""", size=data_size, tp=rng.choice([125, 250, 500]), key=key_arn, delete=str(slug != "batch").lower())
            data_volume = "\n" + data_volume
        code = render(
            LT_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_, arch=arch, name=name,
            caller='data "aws_caller_identity" "current" {}\n' if own_key else "",
            kms=kms_key("ebs", f"EBS volumes for {name}", f"ebs-{name}", extra=[asg_use]) if own_key else "",
            type=itype, hop=hop, env=env, root=root, key_arn=key_arn, data_volume=data_volume,
            default_enc=("\n# Account-wide, per Region: any volume created outside this template is encrypted too.\n"
                         "resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = true\n}\n"
                         if by_default else ""))
        clauses = [
            ("require IMDSv2 with a hop limit of {hop}", "IMDSv2 only (hop limit {hop})",
             "make instance metadata require session tokens, with {hop} hop(s) allowed"),
            ("use the latest Amazon Linux 2023 AMI for {arch} from the public SSM parameter",
             "resolve the current AL2023 {arch} image at plan time instead of pinning an AMI ID"),
            "encrypt the {root} GiB gp3 root volume with " + ("a new KMS key that Auto Scaling can use" if own_key
                                                              else "a KMS key passed in as a variable"),
            ("attach an instance profile and security groups given as variables",
             "take the instance profile name and security group IDs as inputs"),
            ("enable detailed monitoring", "turn on 1-minute CloudWatch metrics"),
        ]
        if data_size:
            clauses.append("add an encrypted {data_size} GiB gp3 data volume")
        if by_default:
            clauses.append("turn on EBS encryption by default for the account in this Region")
        fields = dict(env=env, app=app, wdesc=wdesc, region=region, itype=itype, name=name, hop=hop, arch=arch,
                      root=root, data_size=data_size)
        instruction = compose(rng, openers, clauses, n_reqs=len(clauses) - rng.randrange(2), **fields)
        inp = ""
        if i == 4:
            inp = (f'resource "aws_launch_template" "this" {{\n  name_prefix   = "{name}-"\n'
                   f'  image_id      = "ami-0abc1234def567890"\n  instance_type = "{itype}"\n}}\n')
            instruction = (f"Harden this launch template for {wdesc} in {region}: IMDSv2 only, encrypted gp3 root "
                           f"volume of {root} GiB with a customer-managed key, current AL2023 AMI instead of the "
                           "hard-coded ID, and an instance profile.")
        hop_text = ("The hop limit is 2 because containers sit one network hop behind the host and still need "
                    "IMDS." if hop == 2 else "A hop limit of 1 keeps the credentials endpoint out of reach of "
                    "anything forwarded through the instance.")
        text = prose(rng, [
            "Instance metadata requires IMDSv2 session tokens, which blocks the SSRF-style credential theft that "
            "IMDSv1 allows.",
            hop_text,
            "Every EBS volume is encrypted with a customer-managed KMS key"
            + (", and its key policy lets the Auto Scaling service-linked role use it, without which instances "
               "launched by an Auto Scaling group fail to start." if own_key else "."),
            "The AMI comes from the public SSM parameter, so each new template version picks up the latest "
            "patched Amazon Linux 2023 image.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, ecr_family(rng, 8) + launch_template_family(rng, 9))
