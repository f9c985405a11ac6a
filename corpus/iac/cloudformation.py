"""CloudFormation examples: the shared template renderer and row helpers, plus the KMS and SSM families.

Templates are built as Python dicts with small intrinsic-function classes, so one definition renders to
either YAML (short-form tags such as ``!Ref``) or JSON (``{"Ref": ...}``) without drifting apart.
The other ``cloudformation_*`` modules import the helpers from here; each module returns only its own rows.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

LANGUAGE = "cloudformation"
PROVIDER = "aws"
TERSE_SHARE = 0.3


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class GetAtt:
    resource: str
    attr: str


@dataclass(frozen=True)
class Sub:
    text: str

    def __post_init__(self) -> None:
        # A Sub without a variable is a cfn-lint warning (W1020); catch it while building the template.
        if "${" not in self.text:
            raise ValueError(f"Sub without variables: {self.text}")


@dataclass(frozen=True)
class Fn:
    """Any other intrinsic, e.g. Fn("Select", [0, Fn("GetAZs", "")])."""

    name: str
    args: Any


_PLAIN = re.compile(r"[A-Za-z_/$][\w./:${}@()+=<>,*' -]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(value: Any, flow: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    plain = (
        _PLAIN.fullmatch(text) is not None
        and text.lower() not in _RESERVED
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
        and not (flow and any(ch in text for ch in "{}[],"))
    )
    if plain:
        return text
    if '"' in text and "'" not in text and "\\" not in text:
        return f"'{text}'"
    # JSON string syntax is also valid YAML double-quoted syntax, escapes included.
    return json.dumps(text)


def _inline(value: Any, flow: bool = False) -> str:
    if isinstance(value, Ref):
        return f"!Ref {value.name}"
    if isinstance(value, GetAtt):
        return f"!GetAtt {value.resource}.{value.attr}"
    if isinstance(value, Sub):
        return f"!Sub {_scalar(value.text, flow=True)}" if flow else f"!Sub {_scalar(value.text)}"
    if isinstance(value, Fn):
        return f"!{value.name} {_inline(value.args, flow=True)}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item, flow=True) for item in value) + "]"
    if isinstance(value, dict):
        if value:
            raise ValueError("non-empty mappings are only rendered in block style")
        return "{}"
    return _scalar(value, flow)


def _flow_list(items: list) -> str | None:
    """Short lists of scalars read better, and cost fewer tokens, as [a, b, c]."""
    if any(isinstance(item, dict | list | Fn) or (isinstance(item, str) and "\n" in item) for item in items):
        return None
    return _inline(items, flow=True)


def _literal(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return [pad + line if line else "" for line in text.rstrip("\n").split("\n")]


def _emit_pair(key: str, value: Any, indent: int, lines: list[str], spaced: bool = False) -> None:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines.append(f"{pad}{key}:")
        for index, (child_key, child) in enumerate(value.items()):
            if spaced and index:
                lines.append("")
            _emit_pair(child_key, child, indent + 2, lines)
    elif isinstance(value, list) and value:
        flow = _flow_list(value)
        if flow and len(pad) + len(key) + len(flow) <= 98:
            lines.append(f"{pad}{key}: {flow}")
            return
        lines.append(f"{pad}{key}:")
        for item in value:
            _emit_item(item, indent + 2, lines)
    elif isinstance(value, str) and "\n" in value:
        lines.append(f"{pad}{key}: |")
        lines.extend(_literal(value, indent + 2))
    else:
        lines.append(f"{pad}{key}: {_inline(value)}")


def _emit_item(item: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(item, dict) and item:
        nested: list[str] = []
        for key, value in item.items():
            _emit_pair(key, value, indent + 2, nested)
        lines.append(f"{pad}- {nested[0][indent + 2:]}")
        lines.extend(nested[1:])
    elif isinstance(item, str) and "\n" in item:
        lines.append(f"{pad}- |")
        lines.extend(_literal(item, indent + 2))
    else:
        lines.append(f"{pad}- {_inline(item)}")


def to_yaml(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    for index, (key, value) in enumerate(doc.items()):
        if index > 1:
            lines.append("")
        _emit_pair(key, value, 0, lines, spaced=key == "Resources")
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"Ref": value.name}
    if isinstance(value, GetAtt):
        return {"Fn::GetAtt": [value.resource, value.attr]}
    if isinstance(value, Sub):
        return {"Fn::Sub": value.text}
    if isinstance(value, Fn):
        return {f"Fn::{value.name}": _jsonable(value.args)}
    if isinstance(value, dict):
        return {key: _jsonable(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_jsonable(child) for child in value]
    return value


def _is_leaf(value: Any) -> bool:
    if isinstance(value, dict):
        return len(value) == 1 and all(_is_leaf(child) for child in value.values())
    if isinstance(value, list):
        return all(_is_leaf(child) and not isinstance(child, list) for child in value)
    return True


def _to_json(value: Any, indent: int) -> str:
    """json.dumps(indent=2), except that short lists and single-key objects such as {"Ref": ...} stay on one line."""
    flat = json.dumps(value)
    if not isinstance(value, dict | list) or (_is_leaf(value) and indent + len(flat) <= 90):
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, list):
        items = [pad + _to_json(child, indent + 2) for child in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [f"{pad}{json.dumps(key)}: {_to_json(child, indent + 2)}" for key, child in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def render(doc: dict[str, Any], fmt: str) -> str:
    return _to_json(_jsonable(doc), 0) + "\n" if fmt == "json" else to_yaml(doc)


def template(description: str, parameters: dict, resources: dict, outputs: dict | None = None) -> dict:
    doc: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Description": description}
    if parameters:
        doc["Parameters"] = parameters
    doc["Resources"] = resources
    if outputs:
        doc["Outputs"] = outputs
    return doc


def param(description: str, default: Any = None, type_: str = "String", **extra: Any) -> dict:
    spec: dict[str, Any] = {"Type": type_, "Description": description}
    if default is not None:
        spec["Default"] = default
    spec.update(extra)
    return spec


def output(value: Any, description: str, export: str | None = None) -> dict:
    spec: dict[str, Any] = {"Description": description, "Value": value}
    if export:
        spec["Export"] = {"Name": Sub("${AWS::StackName}-" + export)}
    return spec


def days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def account_root() -> Sub:
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")


def kms_key(description: str, *statements: dict, window: int = 30, **extra: Any) -> dict:
    """Rotating symmetric key whose policy keeps the account in control and adds service grants."""
    root = {
        "Sid": "EnableAccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": account_root()},
        "Action": "kms:*",
        "Resource": "*",
    }
    props = {
        "Description": description,
        "EnableKeyRotation": True,
        "PendingWindowInDays": window,
        **extra,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": [root, *statements]},
    }
    return {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props}


def service_key_grant(sid: str, service: Any, actions: list[str], condition: dict | None = None) -> dict:
    grant = {"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": actions, "Resource": "*"}
    if condition:
        grant["Condition"] = condition
    return grant


def deny_insecure_transport(action: str, resources: Any) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


@dataclass
class Draft:
    instruction: str
    code: str
    fmt: str
    prose: str
    input: str = ""


def draft(instruction: str, doc: dict, fmt: str, prose: str, given: dict | str | None = None) -> Draft:
    text = render(given, fmt) if isinstance(given, dict) else (given or "")
    return Draft(instruction, render(doc, fmt), fmt, prose, text.rstrip("\n"))


def fmt_phrase(fmt: str, rng: random.Random) -> str:
    if fmt == "json":
        return rng.choice([" in JSON", " (JSON format)", " as JSON"])
    return rng.choice(["", " in YAML", ""])


def finish(rng: random.Random, drafts: list[Draft], language: str = LANGUAGE, provider: str = PROVIDER) -> list[dict]:
    """Give exactly TERSE_SHARE of the rows the code-only style, in an rng-chosen order."""
    terse = round(len(drafts) * TERSE_SHARE)
    styles = ["TERSE"] * terse + ["VERBOSE"] * (len(drafts) - terse)
    rng.shuffle(styles)
    rows = []
    for item, style in zip(drafts, styles, strict=True):
        block = f"```{item.fmt}\n{item.code}```"
        rows.append({
            "instruction": item.instruction,
            "input": item.input,
            "output": block if style == "TERSE" else f"{item.prose}\n\n{block}",
            "style": style,
            "language": language,
            "provider": provider,
        })
    return rows


# --- KMS keys -------------------------------------------------------------------------------------------------

_KMS_ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                      "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]
_KMS_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]

_KMS = [
    {"use": "roles", "alias": "payments-data", "window": 30, "fmt": "yaml", "multi": False,
     "need": "the payments service, where one IAM role administers the key and a second role may only use it"},
    {"use": "logs", "alias": "platform-logs", "window": 14, "fmt": "json", "prefix": "/platform/",
     "need": "CloudWatch Logs log groups whose names start with a configurable prefix (default /platform/)"},
    {"use": "alarms", "alias": "ops-alerts", "window": 30, "fmt": "yaml",
     "need": "an SNS alerts topic that CloudWatch alarms and EventBridge rules in this account publish to"},
    {"use": "via", "alias": "reports-s3", "window": 21, "fmt": "yaml", "service": "s3",
     "need": "a reporting role that may use it only through S3 in the stack's region (kms:ViaService)"},
    {"use": "roles", "alias": "ledger-global", "window": 30, "fmt": "json", "multi": True,
     "need": "a ledger application that will later replicate the key to a second region, so make it multi-Region "
             "and split key administration from key usage between two roles"},
    {"use": "sns", "alias": "orders-messaging", "window": 7, "fmt": "yaml",
     "need": "messaging: an SNS topic that fans out to encrypted SQS queues, so SNS itself must be able to use it"},
]

_KMS_ASKS = [
    "Write a CloudFormation template{fmt} that creates a customer-managed KMS key for {need}. Turn on automatic "
    "rotation, use a {window}-day deletion window, and create an alias from a parameter (default alias/{alias}).",
    "I need a KMS key defined in CloudFormation{fmt} for {need}. Rotation on, {window}-day pending deletion "
    "window, an alias named by a parameter defaulting to {alias}, and export the key ARN.",
    "CloudFormation{fmt}: symmetric KMS key with rotation and an alias parameter ({alias} by default) for {need}. "
    "Set the deletion window to {window} days and output the key ID, ARN and alias.",
]


def _kms_draft(rng: random.Random, spec: dict, ask: str) -> Draft:
    fmt = spec["fmt"]
    params: dict[str, Any] = {
        "AliasName": param("Alias for the key, without the alias/ prefix.", spec["alias"],
                           AllowedPattern="^[a-zA-Z0-9/_-]{1,200}$"),
    }
    grants: list[dict] = []
    prose = [f"Rotation is enabled so the key material changes yearly without touching ciphertext, and the "
             f"{spec['window']}-day deletion window leaves time to cancel an accidental deletion."]
    use = spec["use"]
    if use == "roles":
        params["KeyAdminRoleArn"] = param("Role that administers the key but cannot use it.")
        params["KeyUserRoleArn"] = param("Role that encrypts and decrypts with the key.")
        grants.append({"Sid": "AllowKeyAdministration", "Effect": "Allow",
                       "Principal": {"AWS": Ref("KeyAdminRoleArn")}, "Action": _KMS_ADMIN_ACTIONS, "Resource": "*"})
        grants.append({"Sid": "AllowKeyUse", "Effect": "Allow", "Principal": {"AWS": Ref("KeyUserRoleArn")},
                       "Action": _KMS_USE_ACTIONS, "Resource": "*"})
        prose.append("Administration and usage are separate statements, so the admin role can manage or schedule "
                     "deletion of the key but never decrypt data, and the application role can only use it.")
    elif use == "logs":
        params["LogGroupPrefix"] = param("Log group name prefix allowed to use the key.", spec["prefix"])
        grants.append(service_key_grant(
            "AllowCloudWatchLogs", Sub("logs.${AWS::Region}.amazonaws.com"),
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroupPrefix}*")}}))
        prose.append("The CloudWatch Logs grant is scoped with the aws:logs:arn encryption context, so only log "
                     "groups under the prefix in this account and region can use the key.")
    elif use in ("alarms", "sns"):
        services = (["cloudwatch.amazonaws.com", "events.amazonaws.com"] if use == "alarms"
                    else ["sns.amazonaws.com"])
        grants.append(service_key_grant(
            "AllowServicePublishers", services, ["kms:Decrypt", "kms:GenerateDataKey*"],
            {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}))
        who = "CloudWatch and EventBridge" if use == "alarms" else "SNS"
        prose.append(f"{who} must generate data keys to deliver into encrypted destinations, which the AWS managed "
                     "keys cannot allow; the aws:SourceAccount condition keeps other accounts from using that grant.")
    else:
        params["ReportingRoleArn"] = param("Role that reads and writes the encrypted reports.")
        grants.append({"Sid": "AllowUseThroughS3", "Effect": "Allow", "Principal": {"AWS": Ref("ReportingRoleArn")},
                       "Action": _KMS_USE_ACTIONS, "Resource": "*",
                       "Condition": {"StringEquals": {
                           "kms:ViaService": Sub(f"{spec['service']}.${{AWS::Region}}.amazonaws.com"),
                           "kms:CallerAccount": Ref("AWS::AccountId")}}})
        prose.append("The kms:ViaService condition means the reporting role can use the key only when S3 calls KMS "
                     "on its behalf, so it cannot decrypt data directly with the KMS API.")
    extra = {"MultiRegion": True} if spec.get("multi") else {}
    if extra:
        prose.append("MultiRegion is set at creation because it cannot be changed later; replicas are then created "
                     "with AWS::KMS::ReplicaKey in the second region.")
    resources = {
        "Key": kms_key(f"Customer-managed key for {spec['alias']}", *grants, window=spec["window"], **extra),
        "KeyAlias": {"Type": "AWS::KMS::Alias",
                     "Properties": {"AliasName": Sub("alias/${AliasName}"), "TargetKeyId": Ref("Key")}},
    }
    outputs = {
        "KeyId": output(Ref("Key"), "Key ID."),
        "KeyArn": output(GetAtt("Key", "Arn"), "Key ARN.", export="KeyArn"),
        "KeyAliasName": output(Ref("KeyAlias"), "Alias name."),
    }
    doc = template(f"Customer-managed KMS key and alias for {spec['alias']}.", params, resources, outputs)
    instruction = ask.format(fmt=fmt_phrase(fmt, rng), need=spec["need"], window=spec["window"], alias=spec["alias"])
    return draft(instruction, doc, fmt, " ".join(prose))


def _kms(rng: random.Random) -> list[Draft]:
    asks = _KMS_ASKS * 2
    rng.shuffle(asks)
    return [_kms_draft(rng, spec, ask) for spec, ask in zip(_KMS, asks, strict=False)]


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, _kms(rng))
