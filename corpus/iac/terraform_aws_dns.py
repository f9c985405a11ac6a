"""Terraform for AWS: Route 53 private hosted zones with records and Resolver query logging."""

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
    prose,
    render,
    std_tags,
    var_block,
)

ZONE_TEMPLATE = """
@header@
@vars@
resource "aws_route53_zone" "private" {
  name    = "@domain@"
  comment = "Private zone for @app@ (@env@)"

  vpc {
    vpc_id = var.vpc_id
  }@ignore_vpc@
}
@assoc@
resource "aws_route53_record" "db" {
  zone_id = aws_route53_zone.private.zone_id
  name    = "@db_host@.@domain@"
  type    = "CNAME"
  ttl     = @ttl@
  records = [var.database_endpoint]
}
@alias@@logging@
output "zone_id" {
  value = aws_route53_zone.private.zone_id
}
"""

ZONE_ALIAS = """
resource "aws_route53_record" "api" {
  zone_id = aws_route53_zone.private.zone_id
  name    = "@api_host@.@domain@"
  type    = "A"

  alias {
    name                   = var.internal_alb_dns_name
    zone_id                = var.internal_alb_zone_id
    evaluate_target_health = true
  }
}
"""

ZONE_LOGGING = """
resource "aws_cloudwatch_log_group" "dns" {
  name              = "/aws/route53resolver/@name@"
  retention_in_days = @retention@
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_route53_resolver_query_log_config" "this" {
  name            = "@name@"
  destination_arn = aws_cloudwatch_log_group.dns.arn
}

resource "aws_route53_resolver_query_log_config_association" "this" {
  resolver_query_log_config_id = aws_route53_resolver_query_log_config.this.id
  resource_id                  = var.vpc_id
}
"""


def route53_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a Route 53 private hosted zone {domain} for the {app} VPC in {region}.",
        "Write Terraform for internal DNS: private zone {domain} ({env}), visible only inside our VPC.",
        "I need private DNS names for {app} services under {domain}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region, org = apps[i], rng.choice(ENVS), rng.choice(REGIONS), rng.choice(ORGS)
        domain = rng.choice([f"{env}.{app}.internal", f"{app}.{env}.{org}.internal", f"{env}.{org}.corp"])
        name = f"{app}-{env}"
        db_host, api_host = rng.choice(["db", "postgres", "mysql", "database"]), rng.choice(["api", "app", "svc"])
        ttl = rng.choice([30, 60, 300])
        extra_vpcs, alias, logging = rng.random() < 0.4, i % 2 == 0, rng.random() < 0.5
        retention = rng.choice([365, 400]) if env == "prod" else rng.choice([30, 90])
        vars_ = var_block("vpc_id", "Primary VPC that resolves the zone.")
        if extra_vpcs:
            vars_ += var_block("additional_vpc_ids", "Other VPCs in this account that must resolve the zone.",
                               "list(string)", default="[]")
        vars_ += var_block("database_endpoint", "RDS endpoint hostname.")
        if alias:
            vars_ += (var_block("internal_alb_dns_name", "DNS name of the internal ALB.")
                      + var_block("internal_alb_zone_id", "Canonical hosted zone ID of the internal ALB."))
        if logging:
            vars_ += var_block("logs_kms_key_arn", "KMS key for the DNS query log group.")
        assoc = """
resource "aws_route53_zone_association" "additional" {
  for_each = toset(var.additional_vpc_ids)

  zone_id = aws_route53_zone.private.zone_id
  vpc_id  = each.value
}
""" if extra_vpcs else ""
        code = render(
            ZONE_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_, domain=domain, app=app,
            env=env, db_host=db_host, ttl=ttl, assoc=assoc,
            # Extra associations are separate resources, so the inline vpc block must not fight over them.
            ignore_vpc="\n\n  lifecycle {\n    ignore_changes = [vpc]\n  }" if extra_vpcs else "",
            alias=ZONE_ALIAS.replace("@api_host@", api_host).replace("@domain@", domain) if alias else "",
            logging=ZONE_LOGGING.replace("@name@", name).replace("@retention@", str(retention)) if logging else "")
        clauses = [
            "associate it with the VPC passed in as a variable",
            "point {db_host}.{domain} at the database endpoint with a {ttl}-second TTL",
        ]
        if alias:
            clauses.append("alias {api_host}.{domain} to the internal load balancer")
        if extra_vpcs:
            clauses.append("allow more VPCs to be associated later from a list variable")
        if logging:
            clauses.append("log DNS queries from the VPC to an encrypted log group for {retention} days")
        fields = dict(domain=domain, app=app, region=region, env=env, db_host=db_host, ttl=ttl, api_host=api_host,
                      retention=retention)
        instruction = compose(rng, openers, clauses, **fields)
        text = prose(rng, [
            f"A private hosted zone answers only inside associated VPCs, so {domain} names never leak to public DNS.",
            f"The database name is a CNAME with a {ttl}-second TTL, so a failover or endpoint change propagates "
            "quickly without redeploying clients.",
            "The API record is an alias to the internal ALB, which follows the load balancer's changing IPs and "
            "costs nothing per query." if alias else "",
            "Separate zone associations plus ignore_changes on the inline vpc block let other VPCs be attached "
            "without Terraform removing them." if extra_vpcs else "",
            f"Resolver query logging records every lookup from the VPC for {retention} days, which helps trace "
            "data exfiltration over DNS." if logging else "",
        ])
        inp = ""
        if i == 3:
            inp = "\n".join([f"Zone: {domain} (private, {region})", "VPC: passed in as vpc_id",
                             f"Records: {db_host} -> RDS endpoint (CNAME, TTL {ttl})"]
                            + ([f"          {api_host} -> internal ALB (alias)"] if alias else [])
                            + (["Other VPCs: attach later from a list"] if extra_vpcs else [])
                            + ([f"DNS query logs: yes, {retention} days, encrypted"] if logging else []))
            instruction = f"Set up internal DNS for {app} as specified below."
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, route53_family(rng, 8))
