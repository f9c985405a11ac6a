"""Terraform for AWS: VPCs with private subnets and web-tier security groups."""

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
    prose,
    render,
    std_tags,
    var_block,
)

VPC_TEMPLATE = """
@header@
data "aws_availability_zones" "available" {
  state = "available"
}
@vars@
locals {
  azs = slice(data.aws_availability_zones.available.names, 0, @az_count@)
}

resource "aws_vpc" "this" {
  cidr_block           = "@cidr@"
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = "@name@" }
}

# Strip every rule from the default security group so nothing can rely on it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, @newbits@, count.index)
  availability_zone = local.azs[count.index]

  tags = { Name = "@name@-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "@name@-private" }
}

resource "aws_route_table_association" "private" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}
@data_tier@@endpoints@@flow@
output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}
"""

DATA_TIER = """
resource "aws_subnet" "data" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, @newbits@, count.index + 8)
  availability_zone = local.azs[count.index]

  tags = { Name = "@name@-data-${local.azs[count.index]}", Tier = "data" }
}

resource "aws_route_table_association" "data" {
  count = length(local.azs)

  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.private.id
}
"""

FLOW_S3 = """
resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "@traffic@"
  log_destination_type     = "s3"
  log_destination          = var.flow_log_bucket_arn
  max_aggregation_interval = 60

  destination_options {
    file_format        = "parquet"
    per_hour_partition = true
  }
}
"""

FLOW_CW = """
resource "aws_cloudwatch_log_group" "flow" {
  name              = "/vpc/@name@/flow-logs"
  retention_in_days = @retention@
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "@traffic@"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow.arn
  iam_role_arn             = var.flow_log_role_arn
  max_aggregation_interval = 60
}
"""


def vpc_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a VPC for {app} ({env}) in {region} with private subnets only, CIDR {cidr}.",
        "Write Terraform for a {az_count}-AZ VPC ({cidr}) with private subnets and no internet access.",
        "I need an isolated network in {region} for the {env} {app} workloads: VPC {cidr}, {az_count} private subnets.",
        "Terraform: private-only VPC named {name}, {cidr}, spread over {az_count} availability zones.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        name = f"{app}-{env}"
        second = rng.randrange(16, 250)
        prefix = rng.choice([16, 18, 20])
        cidr = f"10.{second}.0.0/{prefix}"
        newbits = rng.choice([4, 6]) if prefix == 16 else 4
        subnet_size = prefix + newbits
        az_count = rng.choice([2, 3])
        flow_cw = i % 3 == 2
        endpoints = rng.sample(["s3", "dynamodb"], rng.choice([0, 1] if flow_cw else [0, 1, 2]))
        # A data tier only goes into the smaller variants, keeping each answer focused.
        data_tier = len(endpoints) < 2 and not flow_cw and rng.random() < 0.6
        traffic = rng.choice(["ALL", "ALL", "REJECT"])
        retention = rng.choice([365, 400]) if env == "prod" else rng.choice([30, 90])
        if flow_cw:
            vars_ = (var_block("logs_kms_key_arn", "KMS key (with a CloudWatch Logs grant) for flow log data.")
                     + var_block("flow_log_role_arn", "Role that lets VPC Flow Logs write to CloudWatch Logs."))
        else:
            vars_ = var_block("flow_log_bucket_arn", "Central S3 bucket that collects VPC flow logs.")
        ep_blocks = "".join(f"""
resource "aws_vpc_endpoint" "{e}" {{
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.{region}.{e}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
}}
""" for e in endpoints)
        if endpoints:
            ep_blocks = "\n# Gateway endpoints keep this traffic on the AWS network without a NAT gateway." + ep_blocks
        code = render(
            VPC_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_, az_count=az_count, cidr=cidr,
            name=name, newbits=newbits,
            data_tier=DATA_TIER.replace("@newbits@", str(newbits)).replace("@name@", name) if data_tier else "",
            endpoints=ep_blocks,
            flow=(FLOW_CW.replace("@retention@", str(retention)) if flow_cw else FLOW_S3)
            .replace("@traffic@", traffic).replace("@name@", name))
        clauses = [
            ("one /{subnet_size} private subnet per AZ", "carve /{subnet_size} private subnets out of the VPC range"),
            ("no internet gateway or NAT", "no route to the internet at all"),
            ("lock down the default security group", "make sure the default security group allows nothing"),
            "capture {traffic_words} traffic in VPC flow logs "
            + ("to CloudWatch Logs kept {retention} days" if flow_cw else "to a central S3 bucket as Parquet"),
        ]
        if data_tier:
            clauses.append("add a second tier of /{subnet_size} data subnets for databases")
        if endpoints:
            clauses.append("add gateway endpoints for " + " and ".join(e.upper() if e == "s3" else "DynamoDB"
                                                                      for e in endpoints))
        fields = dict(app=app, env=env, region=region, cidr=cidr, az_count=az_count, name=name,
                      subnet_size=subnet_size, traffic_words="all" if traffic == "ALL" else "rejected",
                      retention=retention)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 4:
            inp = "\n".join([f"Network request ({app}, {env}):", f"- region {region}, CIDR {cidr}",
                             f"- {az_count} AZs, private subnets only (/{subnet_size})", "- flow logs required",
                             "- S3 must be reachable without internet" if "s3" in endpoints else
                             "- no internet egress at all"])
            instruction = "Turn the network request in the input into Terraform."
        text = prose(rng, [
            f"The VPC has no internet gateway or NAT, so the {az_count} private subnets have no route to or from "
            "the internet.",
            "Gateway endpoints give the subnets private access to "
            + " and ".join("S3" if e == "s3" else "DynamoDB" for e in endpoints) + " at no hourly cost."
            if endpoints else "",
            f"Flow logs record {traffic.lower()} traffic for investigations"
            + (f" and are kept {retention} days in an encrypted log group." if flow_cw else
               ", written as hourly-partitioned Parquet that Athena can query cheaply."),
            "aws_default_security_group with no rules removes the default allow-all-within-group behaviour.",
            "Availability zones are looked up rather than hard-coded, so the same code works in any Region.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


SG_TEMPLATE = """
@header@
@vars@
resource "aws_security_group" "web" {
  name_prefix = "@name@-web-"
  description = "@app@ web tier: @port_words@ from the load balancer"
  vpc_id      = var.vpc_id

  tags = { Name = "@name@-web" }

  lifecycle {
    create_before_destroy = true
  }
}
@ingress@
resource "aws_vpc_security_group_egress_rule" "https_out" {
  security_group_id = aws_security_group.web.id
  description       = "HTTPS to AWS APIs and external services"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "database" {
  security_group_id            = aws_security_group.web.id
  description                  = "@db_name@ to the database tier"
  ip_protocol                  = "tcp"
  from_port                    = @db_port@
  to_port                      = @db_port@
  referenced_security_group_id = var.database_security_group_id
}

output "web_security_group_id" {
  value = aws_security_group.web.id
}
"""

INGRESS_FROM_SG = """
resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  security_group_id            = aws_security_group.web.id
  description                  = "@port_words@ from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = @port@
  to_port                      = @port@
  referenced_security_group_id = var.alb_security_group_id
}
"""

INGRESS_FROM_CIDRS = """
resource "aws_vpc_security_group_ingress_rule" "from_cidrs" {
  for_each = toset(var.allowed_cidrs)

  security_group_id = aws_security_group.web.id
  description       = "@port_words@ from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = @port@
  to_port           = @port@
  cidr_ipv4         = each.value
}
"""

HEALTH_FROM_SG = """
resource "aws_vpc_security_group_ingress_rule" "health_from_alb" {
  security_group_id            = aws_security_group.web.id
  description                  = "Health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = @port@
  to_port                      = @port@
  referenced_security_group_id = var.alb_security_group_id
}
"""

CIDR_VAR = """
variable "allowed_cidrs" {
  description = "Private ranges (load balancer subnets, VPN) allowed to reach the web tier."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "Use specific CIDR blocks; 0.0.0.0/0 is not allowed."
  }
}
"""


def sg_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Write a security group for the {app} web tier in {region} that only accepts {port_words} from {source}.",
        "Create the {env} web-tier security group for {app}: inbound {port_words} from {source}.",
        "I need a security group for {app} web servers (VPC given as a variable) allowing {port_words} from {source}.",
        "Terraform for a least-privilege security group: {app} web tier, {port_words} in from {source}.",
        "Lock down network access to the {app} app servers ({env}, {region}); {source} is the only allowed caller.",
        "Our {app} web instances in {region} need their own security group; traffic arrives on {port_words}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        name = f"{app}-{env}"
        port = rng.choice([443, 443, 8443, 8080, 3000])
        port_words = "HTTPS" if port == 443 else f"TCP {port}"
        from_sg = i % 3 != 1
        db_name, db_port = rng.choice([("PostgreSQL", 5432), ("MySQL", 3306), ("Redis", 6379)])
        source = "the ALB security group" if from_sg else "a list of allowed private CIDRs"
        vars_ = var_block("vpc_id", "VPC that hosts the web tier.")
        vars_ += (var_block("alb_security_group_id", "Security group of the application load balancer.")
                  if from_sg else CIDR_VAR)
        vars_ += var_block("database_security_group_id", f"Security group of the {db_name} tier.")
        ingress = (INGRESS_FROM_SG if from_sg else INGRESS_FROM_CIDRS).replace("@port@", str(port))
        health_port = rng.choice([8081, 9090, 8086]) if from_sg and rng.random() < 0.5 else 0
        if health_port:
            ingress += HEALTH_FROM_SG.replace("@port@", str(health_port))
        code = render(
            SG_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_, name=name, app=app,
            port_words=port_words, ingress=ingress.replace("@port_words@", port_words), db_name=db_name,
            db_port=db_port)
        clauses = [
            ("keep outbound traffic to HTTPS plus {db_name} on port {db_port} to the database security group",
             "egress: HTTPS anywhere and {db_name} ({db_port}) to the database tier's group only",
             "no allow-all egress, just HTTPS out and port {db_port} to {db_name}"),
            ("describe every rule", "give each rule its own description", "document each rule"),
            ("replace the group without downtime when it changes", "use create_before_destroy",
             "make changes to the group safe while instances are attached"),
        ]
        if health_port:
            clauses.append(("let the ALB reach the health check on port {health_port}",
                            "open {health_port} for load balancer health checks"))
        if not from_sg:
            clauses.append("reject 0.0.0.0/0 in the allowed CIDR list")
        fields = dict(app=app, region=region, port_words=port_words, source=source, env=env, db_name=db_name,
                      db_port=db_port, health_port=health_port)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 2:
            inp = (f'resource "aws_security_group" "web" {{\n  name   = "{name}-web"\n  vpc_id = var.vpc_id\n\n'
                   f"  ingress {{\n    from_port   = 0\n    to_port     = 65535\n    protocol    = \"tcp\"\n"
                   f'    cidr_blocks = ["0.0.0.0/0"]\n  }}\n\n  egress {{\n    from_port   = 0\n    to_port     = 0\n'
                   f'    protocol    = "-1"\n    cidr_blocks = ["0.0.0.0/0"]\n  }}\n}}\n')
            instruction = (f"This web security group is wide open. Tighten it: only {port_words} from the ALB "
                           f"security group in, and only HTTPS plus {db_name} to the database tier out.")
        text = prose(rng, [
            f"Inbound traffic is limited to {port_words} from "
            + ("the load balancer's security group, so instances are unreachable even from inside the VPC except "
               "through the ALB." if from_sg else "the listed CIDRs, and a validation rule rejects 0.0.0.0/0."),
            f"Egress is narrowed to HTTPS and to {db_name} on {db_port} toward the database security group "
            "instead of the default allow-all.",
            "Each rule is its own aws_vpc_security_group_*_rule resource with a description, which avoids the "
            "conflicts of mixing inline and standalone rules.",
            "create_before_destroy with name_prefix lets Terraform swap the group without detaching it first.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, vpc_family(rng, 9) + sg_family(rng, 9))
