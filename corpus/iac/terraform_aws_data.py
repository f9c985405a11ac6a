"""Terraform for AWS: DynamoDB tables and RDS instances with their parameter groups."""

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

TABLES = [
    # (table, hash key, range key or "", extra attributes for indexes, GSI (name, hash, range, projection) or None,
    #  TTL attribute or "")
    ("orders", ("customer_id", "S"), ("order_id", "S"), [("status", "S"), ("created_at", "S")],
     ("by-status", "status", "created_at", "ALL"), ""),
    ("sessions", ("session_id", "S"), None, [], None, "expires_at"),
    ("inventory", ("sku", "S"), ("warehouse_id", "S"), [("updated_at", "S")],
     ("by-warehouse", "warehouse_id", "updated_at", "KEYS_ONLY"), ""),
    ("device-readings", ("device_id", "S"), ("recorded_at", "N"), [], None, "expires_at"),
    ("idempotency-keys", ("idempotency_key", "S"), None, [], None, "expires_at"),
    ("user-profiles", ("user_id", "S"), None, [("email", "S")], ("by-email", "email", "", "KEYS_ONLY"), ""),
    ("ledger-entries", ("account_id", "S"), ("entry_id", "S"), [("transaction_id", "S")],
     ("by-transaction", "transaction_id", "", "ALL"), ""),
    ("feature-flags", ("flag_key", "S"), ("environment", "S"), [], None, ""),
    ("rate-limits", ("client_id", "S"), ("window_start", "N"), [], None, "expires_at"),
]

DYNAMO_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@kms@
resource "aws_dynamodb_table" "this" {
  name                        = "@name@"
  billing_mode                = "@billing@"@capacity@
  hash_key                    = "@hash@"@range@
  deletion_protection_enabled = true@stream@
@attributes@@gsi@@ttl@
  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.table.arn
  }
}

output "table_arn" {
  value = aws_dynamodb_table.this.arn
}
"""


def dynamodb_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a DynamoDB table for {what} in the {env} {app} service ({region}).",
        "Write Terraform for the {name} DynamoDB table, keyed by {keys}.",
        "I need a DynamoDB table in {region} that stores {what}; partition key {hash}.",
        "Terraform: DynamoDB table {name} for {app} ({env}).",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        table, hk, rk, extra_attrs, gsi, ttl = TABLES[i % len(TABLES)]
        name = f"{app}-{env}-{table}"
        provisioned = i % 4 == 2
        rcu, wcu = rng.choice([5, 10, 25, 50]), rng.choice([5, 10, 20])
        stream = rng.random() < 0.4
        attrs = [hk, *([rk] if rk else []), *extra_attrs]
        attr_blocks = "\n".join(f'  attribute {{\n    name = "{a}"\n    type = "{t}"\n  }}\n' for a, t in attrs)
        gsi_block = ""
        if gsi:
            gname, ghash, grange, proj = gsi
            gsi_block = (f'\n  global_secondary_index {{\n    name            = "{gname}"\n'
                         f'    hash_key        = "{ghash}"\n'
                         + (f'    range_key       = "{grange}"\n' if grange else "")
                         + f'    projection_type = "{proj}"\n'
                         + (f"    read_capacity   = {rcu}\n    write_capacity  = {wcu}\n" if provisioned else "")
                         + "  }\n")
        code = render(
            DYNAMO_TEMPLATE, header=header(region, std_tags(rng, app, env)),
            kms=kms_key("table", f"DynamoDB table {name}", f"dynamodb-{name}", rng.choice([7, 30])), name=name,
            billing="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
            capacity=f"\n  read_capacity               = {rcu}\n  write_capacity              = {wcu}"
            if provisioned else "",
            hash=hk[0], range=f'\n  range_key                   = "{rk[0]}"' if rk else "",
            stream=('\n  stream_enabled              = true\n  stream_view_type            = "NEW_AND_OLD_IMAGES"'
                    if stream else ""),
            attributes="\n" + attr_blocks, gsi=gsi_block,
            ttl=f'\n  ttl {{\n    attribute_name = "{ttl}"\n    enabled        = true\n  }}\n' if ttl else "")
        keys = hk[0] + (f" and {rk[0]}" if rk else "")
        what = table.replace("-", " ")
        clauses = [
            "use {hash} as the partition key" + (" and {range} as the sort key" if rk else ""),
            ("use provisioned capacity of {rcu} reads and {wcu} writes" if provisioned else
             "bill per request"),
            ("turn on point-in-time recovery", "enable PITR"),
            ("encrypt it with a customer-managed KMS key", "use a CMK for server-side encryption"),
            ("protect it from accidental deletion", "enable deletion protection"),
        ]
        if gsi:
            clauses.append(f"add a global secondary index {gsi[0]} on {gsi[1]}" + (f" and {gsi[2]}" if gsi[2] else ""))
        if ttl:
            clauses.append("expire items through a TTL attribute named {ttl}")
        if stream:
            clauses.append("publish a stream with new and old images")
        fields = dict(what=what, env=env, app=app, region=region, name=name, keys=keys, hash=hk[0],
                      range=rk[0] if rk else "", rcu=rcu, wcu=wcu, ttl=ttl)
        instruction = compose(rng, openers, clauses, **fields)
        inp = ""
        if i == 1:
            inp = (f'resource "aws_dynamodb_table" "this" {{\n  name         = "{name}"\n'
                   f'  billing_mode = "PAY_PER_REQUEST"\n  hash_key     = "{hk[0]}"\n\n  attribute {{\n'
                   f'    name = "{hk[0]}"\n    type = "{hk[1]}"\n  }}\n}}\n')
            instruction = ("Our security review flagged this table: no backups, default encryption and nothing "
                           "stopping a delete. Fix those" + (f", and expire items via {ttl}." if ttl else "."))
        text = prose(rng, [
            "Point-in-time recovery allows restoring the table to any second in the last 35 days, and deletion "
            "protection stops a stray destroy from removing it.",
            "Server-side encryption uses a customer-managed KMS key instead of the AWS-owned default, so key use "
            "is logged in CloudTrail and can be revoked.",
            f"Provisioned capacity of {rcu} RCU / {wcu} WCU suits steady traffic; switch to on-demand if the load "
            "turns spiky." if provisioned else "On-demand billing fits unpredictable traffic without capacity "
            "planning.",
            f"TTL on {ttl} deletes expired items in the background at no write cost." if ttl else "",
            "The stream carries new and old images so consumers can react to every change." if stream else "",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


ENGINES = [
    # (engine, version, parameter family, log exports, parameters enforcing TLS and useful logging)
    ("postgres", "16", "postgres16", '["postgresql", "upgrade"]',
     [("rds.force_ssl", "1"), ("log_min_duration_statement", "@slow_ms@"), ("log_statement", "ddl")]),
    ("postgres", "17", "postgres17", '["postgresql", "upgrade"]',
     [("rds.force_ssl", "1"), ("log_min_duration_statement", "@slow_ms@"), ("log_connections", "1")]),
    ("mysql", "8.0", "mysql8.0", '["error", "slowquery"]',
     [("require_secure_transport", "1"), ("slow_query_log", "1"), ("long_query_time", "@slow_s@")]),
]

RDS_TEMPLATE = """
@header@
@vars@
resource "aws_db_subnet_group" "this" {
  name       = "@name@"
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "@name@-"
  family      = "@family@"
@params@
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier                          = "@name@"
  engine                              = "@engine@"
  engine_version                      = "@version@"
  instance_class                      = "@class@"
  allocated_storage                   = @storage@
  max_allocated_storage               = @max_storage@
  storage_type                        = "gp3"
  storage_encrypted                   = true
  kms_key_id                          = @key_arn@
  db_name                             = "@db_name@"
  username                            = "@username@"
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = @key_arn@
  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [var.database_security_group_id]
  parameter_group_name                = aws_db_parameter_group.this.name
  publicly_accessible                 = false
  multi_az                            = @multi_az@
  backup_retention_period             = @backups@
  copy_tags_to_snapshot               = true
  deletion_protection                 = true
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "@name@-final"
  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  enabled_cloudwatch_logs_exports     = @logs@
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = @key_arn@
  monitoring_interval                 = @monitoring@
  monitoring_role_arn                 = var.monitoring_role_arn
}

output "endpoint" {
  value = aws_db_instance.this.address
}

output "master_user_secret_arn" {
  value = aws_db_instance.this.master_user_secret[0].secret_arn
}
"""


def rds_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create an RDS {engine_name} {version} instance for {app} ({env}) in {region}.",
        "Write Terraform for the {env} {app} database: {engine_name} {version} on {klass}.",
        "I need a private {engine_name} database on RDS for the {app} service, region {region}.",
        "Terraform for RDS: {engine_name} {version}, instance {name}, sized {klass}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        engine, version, family, logs, params = ENGINES[i % len(ENGINES)]
        engine_name = {"postgres": "PostgreSQL", "mysql": "MySQL"}[engine]
        name = f"{app}-{env}-{'pg' if engine == 'postgres' else engine}"
        prod = env == "prod"
        klass = rng.choice(["db.m7g.large", "db.r7g.large", "db.m6i.xlarge"] if prod else
                           ["db.t4g.medium", "db.t4g.large", "db.m7g.large"])
        storage = rng.choice([50, 100, 200])
        max_storage = storage * rng.choice([2, 4, 5])
        backups = rng.choice([14, 21, 35]) if prod else rng.choice([7, 7, 14])
        monitoring = rng.choice([15, 30, 60])
        slow_ms, slow_s = rng.choice([250, 500, 1000]), rng.choice([1, 2, 5])
        db_name = app.replace("-", "_")
        vars_ = (var_block("private_subnet_ids", "Private subnets in at least two AZs.", "list(string)")
                 + var_block("database_security_group_id", "Security group that admits only the app tier.")
                 + var_block("monitoring_role_arn", "Role that lets RDS publish Enhanced Monitoring metrics."))
        vars_ += var_block("kms_key_arn", "Customer-managed KMS key for storage, secrets and Insights.")
        key_arn = "var.kms_key_arn"
        param_blocks = "".join(f'\n  parameter {{\n    name  = "{k}"\n    value = "{v}"\n  }}\n' for k, v in params)
        param_blocks = param_blocks.replace("@slow_ms@", str(slow_ms)).replace("@slow_s@", str(slow_s))
        code = render(
            RDS_TEMPLATE, header=header(region, std_tags(rng, app, env)), vars=vars_,
            name=name, family=family,
            params=param_blocks, engine=engine, version=version, **{"class": klass}, storage=storage,
            max_storage=max_storage, key_arn=key_arn, db_name=db_name, username=f"{db_name}_admin",
            multi_az=str(prod).lower(), backups=backups, logs=logs, monitoring=monitoring)
        tls_param = params[0][0]
        clauses = [
            ("keep it private in the given subnets, reachable only through one security group",
             "no public endpoint; only the app tier's security group may connect"),
            ("encrypt storage and Performance Insights with a KMS key passed in as a variable",
             "use our existing customer-managed KMS key (a variable) for everything at rest"),
            ("let RDS generate and store the master password in Secrets Manager",
             "no password in code: have RDS manage the master credentials"),
            ("force TLS connections through the parameter group", "reject unencrypted client connections"),
            ("keep automated backups for {backups} days and take a final snapshot on delete",
             "retain {backups} days of automated backups"),
            ("turn on deletion protection and IAM database authentication", "enable deletion protection"),
            ("start with {storage} GiB of gp3 and autoscale to {max_storage} GiB",
             "allocate {storage} GiB gp3 with storage autoscaling up to {max_storage} GiB"),
            "run Multi-AZ" if prod else ("run single-AZ to save cost outside production", "no Multi-AZ needed"),
            ("export the engine logs to CloudWatch and enable Enhanced Monitoring every {monitoring}s",
             "ship logs to CloudWatch and collect OS metrics every {monitoring} seconds"),
        ]
        fields = dict(engine_name=engine_name, version=version, app=app, env=env, region=region, klass=klass,
                      name=name, backups=backups, storage=storage, max_storage=max_storage, monitoring=monitoring)
        instruction = compose(rng, openers, clauses, n_reqs=rng.randint(5, 7), **fields)
        inp = ""
        if i == 5:
            inp = (f'resource "aws_db_instance" "this" {{\n  identifier          = "{name}"\n'
                   f'  engine              = "{engine}"\n  instance_class      = "{klass}"\n'
                   f"  allocated_storage   = {storage}\n  username            = \"admin\"\n"
                   f'  password            = "ChangeMe123!"\n  publicly_accessible = true\n'
                   "  skip_final_snapshot = true\n}\n")
            instruction = (f"Review this RDS definition for {app} and rewrite it so it is production-safe "
                           f"({engine_name} {version}, {region}).")
        first = ("There is no password in the code or state: manage_master_user_password makes RDS generate the "
                 "master password and keep it in Secrets Manager, encrypted with the same customer-managed key.")
        if i == 5:
            first = ("The hard-coded password and the public endpoint are gone: RDS now generates the master "
                     "password into Secrets Manager, and final snapshots are no longer skipped.")
        text = prose(rng, [
            first,
            f"The instance is not publicly accessible, sits in private subnets behind one security group, and the "
            f"parameter group sets {tls_param} so clients must use TLS.",
            f"Storage, Performance Insights and the secret are encrypted; backups are kept {backups} days and a "
            "final snapshot is taken on deletion.",
            "Multi-AZ keeps a synchronous standby for failover." if prod else
            "It runs single-AZ because this is not production; set multi_az = true before it carries real load.",
        ])
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, dynamodb_family(rng, 9) + rds_family(rng, 9))
