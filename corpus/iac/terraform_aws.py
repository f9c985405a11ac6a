"""Terraform for AWS: shared rendering helpers plus the KMS, SSM parameter and Secrets Manager families.

The sibling modules terraform_aws_*.py import the helpers below; every module's examples() returns only its own
rows, so a loader that calls all of them gets each example once.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "eu-north-1",
           "ap-southeast-2", "ap-northeast-1", "ap-south-1", "ca-central-1", "sa-east-1"]
ENVS = ["dev", "staging", "prod", "qa", "prod", "perf", "prod", "sandbox"]
APPS = ["payments", "orders", "analytics", "checkout", "inventory", "billing", "media", "search", "identity",
        "reporting", "ledger", "catalog", "notifications", "telemetry", "shipping", "invoicing", "crm", "ingest",
        "pricing", "loyalty", "fraud", "docs"]
ORGS = ["acme", "globex", "initech", "hooli", "northwind", "contoso", "umbrella", "wayne", "tyrell", "soylent"]
TEAMS = ["platform", "data-eng", "payments-eng", "sre", "core-api", "growth", "security", "ml-infra"]

LONG_CODE_CHARS = 2600
_ASSIGN = re.compile(r'^(\s*)("[^"]*"|[A-Za-z_][\w-]*)\s*=\s*(.*)$')


@dataclass
class Draft:
    instruction: str
    code: str
    prose: str
    input: str = ""


def render(template: str, **fields: object) -> str:
    """Fill @name@ placeholders (HCL never uses @, unlike $ and braces) and normalise the layout like terraform fmt."""
    text = re.sub(r"@(\w+)@", lambda m: str(fields[m.group(1)]), template)
    return hcl_format(text)


def _depth_change(value: str) -> int:
    depth, in_str, i = 0, False, 0
    while i < len(value):
        ch = value[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    return depth


def hcl_format(text: str) -> str:
    """Drop blank lines that optional fragments leave behind and align '=' the way terraform fmt does.

    fmt aligns runs of consecutive single-line attributes; a line that opens a multi-line value ends the run.
    """
    lines = [ln.rstrip() for ln in text.strip("\n").split("\n")]
    kept: list[str] = []
    for ln in lines:
        if ln == "" and (not kept or kept[-1] == "" or kept[-1].endswith(("{", "["))):
            continue
        if ln.strip() in ("}", "]", ")", "})", "}]", "])") and kept and kept[-1] == "":
            kept.pop()
        # Top-level blocks are separated by one blank line, even when an optional fragment was glued on.
        prev = kept[-1] if kept else ""
        if (ln[:1].isalpha() or ln[:1] == "#") and (prev[:1].isalpha() or prev[:1] == "}") and prev.endswith("}"):
            kept.append("")
        kept.append(ln)
    out: list[str] = []
    run: list[tuple[str, str, str]] = []

    def flush() -> None:
        width = max((len(k) for _, k, _ in run), default=0)
        out.extend(f"{ind}{k.ljust(width)} = {v}" for ind, k, v in run)
        run.clear()

    for ln in kept:
        m = _ASSIGN.match(ln)
        if m and not m.group(3).startswith("=") and _depth_change(m.group(3)) == 0:
            if run and run[-1][0] != m.group(1):
                flush()
            run.append((m.group(1), m.group(2), m.group(3)))
            continue
        flush()
        if m and not m.group(3).startswith("="):
            ln = f"{m.group(1)}{m.group(2)} = {m.group(3)}"
        out.append(ln)
    flush()
    return "\n".join(out) + "\n"


def header(region: str, tags: dict[str, str], extra_providers: str = "") -> str:
    """terraform + provider blocks; default_tags keeps every resource tagged without repeating the map."""
    tag_lines = "\n".join(f"      {k} = \"{v}\"" for k, v in tags.items())
    return render("""
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = "@region@"

  default_tags {
    tags = {
@tags@
    }
  }
}
@extra@
""", region=region, tags=tag_lines, extra=extra_providers)


def std_tags(rng: random.Random, app: str, env: str) -> dict[str, str]:
    tags = {"Application": app, "Environment": env}
    if rng.random() < 0.5:
        tags["Team"] = rng.choice(TEAMS)
    if rng.random() < 0.3:
        tags["CostCenter"] = f"cc-{rng.randint(1000, 9999)}"
    tags["ManagedBy"] = "terraform"
    return tags


_VERBS = {
    "abort", "add", "alarm", "alias", "allocate", "allow", "associate", "attach", "back", "bill", "block", "cap",
    "capture", "carve", "clean", "copy", "cover", "create", "delete", "deliver", "deny", "describe", "disable",
    "document", "email", "enable", "encrypt", "expire", "export", "fan", "force", "give", "grant", "invoke", "keep",
    "let", "limit", "lock", "log", "make", "move", "name", "never", "notify", "only", "open", "output", "park",
    "point", "protect", "publish", "reject", "replace", "replicate", "require", "reserve", "resolve", "restrict",
    "retain", "retry", "rotate", "run", "scan", "select", "send", "set", "ship", "size", "start", "take", "trust",
    "turn", "use",
}


def join_requirements(rng: random.Random, clauses: list[str]) -> str:
    """Render requirement clauses as sentences, a bullet list or one run-on request, so instructions differ in shape."""
    clauses = list(clauses)
    rng.shuffle(clauses)
    shape = rng.randrange(3)
    if shape == 0:
        return " ".join(c[0].upper() + c[1:] + "." for c in clauses)
    if shape == 1:
        lead = rng.choice(["Requirements:", "It must:", "Details:", "Constraints:"])
        return lead + "\n" + "\n".join(f"- {c}" for c in clauses)
    if len(clauses) == 1:
        return f"Also, {clauses[0]}."
    if all(c.split(" ", 1)[0] in _VERBS for c in clauses):
        return "Make sure to " + ", ".join(clauses[:-1]) + ", and " + clauses[-1] + "."
    # Noun-phrase requirements ("no public endpoint", "visibility timeout: 60s") read better as a plain list.
    return rng.choice(["Needs: ", "Spec: ", "What I want: "]) + "; ".join(clauses) + "."


def compose(rng: random.Random, openers: list[str], clauses: list[str | tuple[str, ...]],
            n_reqs: int | None = None, **fields: object) -> str:
    """Opener plus requirement clauses; a tuple clause offers alternative wordings, n_reqs keeps a random subset."""
    opener = rng.choice(openers).format(**fields)
    gap = "\n\n" if rng.random() < 0.25 else " "
    reqs = []
    for clause in clauses:
        text = (rng.choice(clause) if isinstance(clause, tuple) else clause).format(**fields)
        # A requirement the opener already states is not repeated in the list.
        if text not in opener:
            reqs.append(text)
    if n_reqs is not None and n_reqs < len(reqs):
        reqs = rng.sample(reqs, n_reqs)
    return opener + gap + join_requirements(rng, reqs)


def prose(rng: random.Random, sentences: list[str], lo: int = 2, hi: int = 4) -> str:
    """Keep the first sentence (the main point) and a few of the rest, in their original order."""
    sentences = [s for s in sentences if s]
    if len(sentences) <= lo:
        return " ".join(sentences)
    k = rng.randint(lo, min(hi, len(sentences)))
    rest = sorted(rng.sample(range(1, len(sentences)), k - 1))
    return " ".join([sentences[0], *(sentences[i] for i in rest)])


def finalize(rng: random.Random, drafts: list[Draft], terse_share: float = 0.3) -> list[dict]:
    terse = set(rng.sample(range(len(drafts)), round(len(drafts) * terse_share)))
    rows = []
    for i, d in enumerate(drafts):
        block = f"```hcl\n{d.code}```"
        text = d.prose
        if len(d.code) > LONG_CODE_CHARS:
            # Long configurations get the two most important sentences so the answer stays within budget.
            text = " ".join(re.split(r"(?<=\.) (?=[A-Z])", text)[:2])
        rows.append({
            "instruction": d.instruction,
            "input": d.input,
            "output": block if i in terse else f"{text}\n\n{block}",
            "style": "TERSE" if i in terse else "VERBOSE",
            "language": "terraform",
            "provider": "aws",
        })
    return rows


def hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def statements(items: list[dict[str, str]], indent: int = 6) -> str:
    """Render IAM/KMS policy statements for a jsonencode() Statement list; values are raw HCL expressions."""
    pad = " " * indent
    blocks = []
    for item in items:
        body = "\n".join(f"{pad}  {k} = {v}" for k, v in item.items())
        blocks.append(f"{pad}{{\n{body}\n{pad}}}")
    return ",\n".join(blocks)


ROOT_ADMIN = {
    "Sid": '"AccountRootAdministers"',
    "Effect": '"Allow"',
    "Principal": '{ AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }',
    "Action": '"kms:*"',
    "Resource": '"*"',
}


def kms_key(name: str, purpose: str, alias: str, window: int = 30, extra: list[dict[str, str]] | None = None) -> str:
    """A rotating CMK with an explicit key policy; callers declare data.aws_caller_identity.current."""
    return render("""
resource "aws_kms_key" "@name@" {
  description             = "@purpose@"
  enable_key_rotation     = true
  deletion_window_in_days = @window@

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
@statements@
    ]
  })
}

resource "aws_kms_alias" "@name@" {
  name          = "alias/@alias@"
  target_key_id = aws_kms_key.@name@.key_id
}
""", name=name, purpose=purpose, window=window, alias=alias, statements=statements([ROOT_ADMIN, *(extra or [])]))


SAME_ACCOUNT = '{ StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }'


def service_key_statement(sid: str, service: str, actions: str = '["kms:Decrypt", "kms:GenerateDataKey*"]',
                          condition: str = "") -> dict[str, str]:
    stmt = {"Sid": f'"{sid}"', "Effect": '"Allow"', "Principal": f'{{ Service = "{service}" }}', "Action": actions,
            "Resource": '"*"'}
    stmt["Condition"] = condition or SAME_ACCOUNT
    return stmt


def var_block(name: str, description: str, type_: str = "string", sensitive: bool = False, default: str = "") -> str:
    lines = ["", f'variable "{name}" {{', f'  description = "{description}"', f"  type        = {type_}"]
    if default:
        lines.append(f"  default     = {default}")
    if sensitive:
        lines.append("  sensitive   = true")
    return "\n".join([*lines, "}"]) + "\n"


# ---------------------------------------------------------------- KMS key with rotation and alias

KMS_USES = [
    # (label, statement sid, principal service or "" for an IAM role via kms:ViaService, via prefix, consumer)
    ("logs", "AllowCloudWatchLogs", "logs.{region}.amazonaws.com", "", "CloudWatch Logs log groups"),
    ("alarms", "AllowCloudWatchAlarms", "cloudwatch.amazonaws.com", "", "an SNS topic fed by CloudWatch alarms"),
    ("events", "AllowEventBridge", "events.amazonaws.com", "", "EventBridge rules that deliver to encrypted targets"),
    ("s3", "", "", "s3", "S3 objects written by an application role"),
    ("secrets", "", "", "secretsmanager", "Secrets Manager secrets read by an application role"),
    ("sqs", "", "", "sqs", "SQS messages produced by an application role"),
    ("dynamodb", "", "", "dynamodb", "DynamoDB tables accessed by an application role"),
]

KMS_TEMPLATE = """
@header@
data "aws_caller_identity" "current" {}
@role_var@
resource "aws_kms_key" "this" {
  description             = "@description@"
  enable_key_rotation     = true
  rotation_period_in_days = @rotation@
  deletion_window_in_days = @window@
  multi_region            = @multi_region@

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
@statements@
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/@alias@"
  target_key_id = aws_kms_key.this.key_id
}

output "key_arn" {
  value = aws_kms_key.this.arn
}

output "alias_name" {
  value = aws_kms_alias.this.name
}
"""


def _kms_use_statement(region: str, use: tuple[str, str, str, str, str]) -> dict[str, str]:
    label, sid, service, via, _ = use
    if label == "logs":
        return service_key_statement(
            sid, service.format(region=region),
            '["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]',
            '{ ArnLike = { "kms:EncryptionContext:aws:logs:arn" = '
            f'"arn:aws:logs:{region}:${{data.aws_caller_identity.current.account_id}}:log-group:*" }} }}')
    if service:
        return service_key_statement(sid, service)
    return {"Sid": '"AllowApplicationRoleViaService"', "Effect": '"Allow"',
            "Principal": "{ AWS = var.application_role_arn }",
            "Action": '["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]', "Resource": '"*"',
            "Condition": f'{{ StringEquals = {{ "kms:ViaService" = "{via}.{region}.amazonaws.com" }} }}'}


def kms_family(rng: random.Random, n: int) -> list[Draft]:
    openers = [
        "Create a customer-managed KMS key for {consumer} in the {env} {app} stack ({region}).",
        "I need a KMS key, written in Terraform, for {consumer}. Use the alias alias/{alias} and region {region}.",
        "Terraform please: a symmetric KMS key plus alias for the {app} service ({env}), to protect {consumer}.",
        "Set up KMS for {app} in {region}: one rotating key dedicated to {consumer}.",
    ]
    drafts = []
    apps = rng.sample(APPS, n)
    for i in range(n):
        app, env, region = apps[i], rng.choice(ENVS), rng.choice(REGIONS)
        use = KMS_USES[i % len(KMS_USES)]
        rotation = rng.choice([90, 180, 365, 730])
        window = rng.choice([7, 14, 30]) if env != "prod" else 30
        multi = rng.random() < 0.25
        alias = f"{app}-{env}-{use[0]}"
        consumer = use[4]
        clauses = [
            "rotate key material automatically every {rotation} days",
            "use a {window}-day deletion window",
            "keep the account root as the key administrator in the key policy",
            "create the alias alias/{alias}" if i % 2 else "output the key ARN and the alias name",
            "make it a multi-Region key" if multi else "keep it single-Region",
        ]
        if use[2]:
            clauses.append("grant the service principal only the actions it needs and only for this account")
        else:
            clauses.append("let the application role (ARN passed in as a variable) use it only through {via}")
        fields = dict(consumer=consumer, env=env, app=app, region=region, alias=alias, rotation=rotation,
                      window=window, via=f"{use[3]}.{region}.amazonaws.com")
        role_var = "" if use[2] else var_block(
            "application_role_arn", "IAM role that encrypts and decrypts through the integrated AWS service.")
        code = render(KMS_TEMPLATE, header=header(region, std_tags(rng, app, env)), role_var=role_var,
                      description=f"{app} {env} key for {consumer}", rotation=rotation, window=window,
                      multi_region=str(multi).lower(), alias=alias,
                      statements=statements([ROOT_ADMIN, _kms_use_statement(region, use)]))
        scope = ("The service statement carries a condition on this account (or its log groups), so resources in "
                 "other accounts cannot use the key through the service." if use[2] else
                 "The application role may only use the key through kms:ViaService, so it cannot call KMS directly "
                 "to decrypt data outside that service.")
        text = prose(rng, [
            f"The key rotates its material every {rotation} days and keeps the account root as administrator, which "
            "leaves day-to-day access to IAM policies.",
            scope,
            f"A {window}-day deletion window gives time to notice and cancel an accidental deletion.",
            f"The alias alias/{alias} lets consumers reference the key without hard-coding its ID.",
            "Multi-Region lets you replicate the key for cross-Region decryption." if multi else
            "It stays single-Region because nothing needs to decrypt this data elsewhere.",
        ])
        inp = ""
        instruction = compose(rng, openers, clauses, **fields)
        if i == 2:
            inp = f'resource "aws_kms_key" "{app}" {{\n  description = "{app} key"\n}}\n'
            instruction = (f"This KMS key for {app} has no rotation, alias or key policy. Rework it for {consumer} "
                           f"in {region}: rotation every {rotation} days, a {window}-day deletion window and the "
                           f"alias alias/{alias}.")
        drafts.append(Draft(instruction, code, text, inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(rng, kms_family(rng, 9))
