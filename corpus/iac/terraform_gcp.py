"""Terraform examples for Google Cloud: Cloud Storage and Cloud KMS.

Also holds the helpers that the terraform_gcp_* modules share (provider header, labels, styles)."""

import random
import re

LANGUAGE = "terraform"
PROVIDER = "gcp"
TERSE_SHARE = 0.3

REGIONS = ["us-central1", "us-east1", "europe-west1", "europe-west4", "europe-north1", "asia-northeast1",
           "australia-southeast1", "northamerica-northeast1", "asia-south1", "us-west2"]
ORGS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "tyrell", "cyberdyne"]
TEAMS = ["payments", "platform", "data", "identity", "search", "growth", "billing", "logistics", "risk", "media"]
ENVS = ["dev", "staging", "prod"]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def header(region: str, *, with_random: bool = False, default_labels: dict[str, str] | None = None) -> str:
    """terraform + provider blocks; the project comes from a variable so nothing is tied to one project."""
    random_req = ""
    if with_random:
        random_req = '    random = {\n      source  = "hashicorp/random"\n      version = "~> 3.6"\n    }\n'
    # default_labels lets one map label every resource instead of repeating it per resource.
    labels = "\n" + hcl_map("default_labels", default_labels) if default_labels else ""
    return (
        'terraform {\n  required_version = ">= 1.5"\n\n  required_providers {\n'
        '    google = {\n      source  = "hashicorp/google"\n      version = "~> 6.0"\n    }\n'
        f"{random_req}  }}\n}}\n\n"
        f'provider "google" {{\n  project = var.project_id\n  region  = "{region}"\n{labels}}}\n\n'
        'variable "project_id" {\n  description = "ID of the project that owns these resources."\n'
        "  type        = string\n}\n"
    )


def variable(name: str, description: str, type_: str = "string", default: str | None = None,
             sensitive: bool = False) -> str:
    lines = [f'variable "{name}" {{', f'  description = "{description}"', f"  type        = {type_}"]
    if default is not None:
        lines.append(f"  default     = {default}")
    if sensitive:
        lines.append("  sensitive   = true")
    return "\n".join([*lines, "}"]) + "\n"


def hcl_map(name: str, values: dict[str, str], indent: int = 2) -> str:
    """An attribute holding a map of strings, aligned the way `terraform fmt` aligns it."""
    pad = " " * indent
    keys = {k: k if IDENT.fullmatch(k) else f'"{k}"' for k in values}
    width = max(len(k) for k in keys.values())
    body = "".join(f'{pad}  {keys[k].ljust(width)} = "{v}"\n' for k, v in values.items())
    return f"{pad}{name} = {{\n{body}{pad}}}\n"


def attrs(pairs: list[tuple[str, str]], indent: int = 2) -> str:
    """Single-line attributes with their `=` aligned as `terraform fmt` does for a contiguous group."""
    width = max(len(k) for k, _ in pairs)
    return "".join(f"{' ' * indent}{k.ljust(width)} = {v}\n" for k, v in pairs)


def upper_first(text: str) -> str:
    """Capitalise a sentence start without lower-casing names such as "UI" or "IoT" (str.capitalize would)."""
    return text[:1].upper() + text[1:]


def make_labels(rng: random.Random, team: str, env: str) -> dict[str, str]:
    labels = {"env": env, "team": team, "managed_by": "terraform"}
    if rng.random() < 0.5:
        labels["cost_center"] = f"cc-{rng.randint(100, 999)}"
    return labels


def draft(instruction: str, prose: list[str], code: str, input_text: str = "") -> dict:
    return {"instruction": instruction, "input": input_text, "prose": " ".join(prose), "code": code}


def finish(drafts: list[dict], rng: random.Random, language: str = LANGUAGE, provider: str = PROVIDER) -> list[dict]:
    """Turn drafts into rows; a fixed share, picked by the seeded rng, answers with code only."""
    terse = set(rng.sample(range(len(drafts)), round(len(drafts) * TERSE_SHARE)))
    rows = []
    for index, item in enumerate(drafts):
        fenced = f"```hcl\n{item['code']}```"
        style = "TERSE" if index in terse else "VERBOSE"
        output = fenced if style == "TERSE" else f"{item['prose']}\n\n{fenced}"
        rows.append({"instruction": item["instruction"], "input": item["input"], "output": output,
                     "style": style, "language": language, "provider": provider})
    return rows


def _shingles(text: str) -> set[str]:
    text = " ".join(re.sub(r"[^\w\s]+", " ", text.casefold()).split())
    return {text[i : i + 5] for i in range(max(1, len(text) - 4))}


class Distinct:
    """Keeps a module's instructions apart: near-identical prompts teach little and leak across the
    train/eval split, so a wording too close to an earlier one gives way to another template."""

    def __init__(self, limit: float = 0.7) -> None:
        self.limit = limit
        self.seen: list[set[str]] = []

    def pick(self, options: list[tuple[str, str]], preferred: int, suffix: str = "") -> tuple[str, str]:
        """options: (instruction, input) per template; returns the first acceptable one, preferred first."""
        first = preferred % len(options)
        scored = []
        for k in [first, *(k for k in range(len(options)) if k != first)]:
            grams = _shingles(options[k][0] + suffix)
            worst = max((len(grams & s) / len(grams | s) for s in self.seen), default=0.0)
            if worst < self.limit:
                break
            scored.append((worst, k))
        else:
            k = min(scored)[1]
            grams = _shingles(options[k][0] + suffix)
        self.seen.append(grams)
        return options[k][0] + suffix, options[k][1]


def template_order(rng: random.Random, count: int, templates: int) -> list[int]:
    """Spread templates evenly over a family so no wording dominates."""
    order: list[int] = []
    while len(order) < count:
        order.extend(rng.sample(range(templates), templates))
    return order[:count]


# (slug, what it holds, storage class)
BUCKET_USES = [
    ("raw-events", "raw clickstream event exports", "STANDARD"),
    ("ml-training", "machine-learning training datasets", "STANDARD"),
    ("invoices", "generated invoice PDFs", "STANDARD"),
    ("build-artifacts", "CI build artifacts", "STANDARD"),
    ("audit-archive", "audit log archives", "NEARLINE"),
    ("media-uploads", "user-uploaded images that already passed malware scanning", "STANDARD"),
    ("db-dumps", "nightly database dumps", "NEARLINE"),
    ("bi-extracts", "BI extracts shared with the analytics team", "STANDARD"),
    ("sensor-data", "IoT sensor readings", "STANDARD"),
]
# The provider's default region for buckets in a multi-region sits inside that multi-region.
MULTI_REGION_HOME = {"EU": "europe-west1", "US": "us-central1", "ASIA": "asia-northeast1"}
BUCKET_LOCATIONS = ["EU", "US", "ASIA", "europe-west1", "us-east1", "europe-north1", "australia-southeast1"]


def bucket_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (use, purpose, storage_class) in zip(template_order(rng, count, 5), rng.sample(BUCKET_USES, count),
                                                strict=True):
        org, team, env = rng.choice(ORGS), rng.choice(TEAMS), rng.choice(ENVS)
        name = f"{org}-{use}-{env}"
        ident = use.replace("-", "_")
        location = rng.choice(BUCKET_LOCATIONS)
        region = location if "-" in location else MULTI_REGION_HOME[location]
        noncurrent_days = rng.choice([14, 30, 60, 90, 180])
        keep_versions = rng.choice([3, 5, 10])
        colder = "COLDLINE" if storage_class == "NEARLINE" else rng.choice(["NEARLINE", "COLDLINE"])
        transition_days = rng.choice([30, 60, 90, 120]) if storage_class == "NEARLINE" or rng.random() < 0.4 else 0
        soft_delete_days = rng.choice([7, 14, 30]) if rng.random() < 0.5 else 0
        labels = make_labels(rng, team, env)

        extras = ""
        if transition_days:
            extras += ("\n  # Older objects are rarely read, so they move to a cheaper storage class.\n"
                       f"  lifecycle_rule {{\n    condition {{\n      age = {transition_days}\n    }}\n"
                       f'    action {{\n      type          = "SetStorageClass"\n      storage_class = "{colder}"\n'
                       "    }\n  }\n")
        if soft_delete_days:
            extras += (f"\n  soft_delete_policy {{\n    retention_duration_seconds = {soft_delete_days * 86400}\n"
                       "  }\n")
        code = (
            header(region) + "\n"
            + variable("kms_key_id", "Cloud KMS crypto key that encrypts the objects.") + "\n"
            + variable("access_log_bucket", "Existing bucket that receives usage and storage logs.") + "\n"
            + 'data "google_storage_project_service_account" "gcs" {}\n\n'
            "# The Cloud Storage service agent must be able to use the key before the bucket can reference it.\n"
            'resource "google_kms_crypto_key_iam_member" "gcs_cmek" {\n'
            "  crypto_key_id = var.kms_key_id\n"
            '  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"\n'
            '  member        = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"\n'
            "}\n\n"
            f'resource "google_storage_bucket" "{ident}" {{\n'
            f'  name                        = "{name}"\n'
            f'  location                    = "{location}"\n'
            f'  storage_class               = "{storage_class}"\n'
            "  uniform_bucket_level_access = true\n"
            '  public_access_prevention    = "enforced"\n'
            "  force_destroy               = false\n\n"
            "  versioning {\n    enabled = true\n  }\n\n"
            "  encryption {\n    default_kms_key_name = var.kms_key_id\n  }\n\n"
            f'  logging {{\n    log_bucket        = var.access_log_bucket\n    log_object_prefix = "{use}/"\n  }}\n\n'
            "  lifecycle_rule {\n    condition {\n"
            f"      days_since_noncurrent_time = {noncurrent_days}\n    }}\n"
            '    action {\n      type = "Delete"\n    }\n  }\n\n'
            "  lifecycle_rule {\n    condition {\n"
            f'      num_newer_versions = {keep_versions}\n      with_state         = "ARCHIVED"\n    }}\n'
            '    action {\n      type = "Delete"\n    }\n  }\n'
            + extras + "\n"
            + hcl_map("labels", labels)
            + "\n  depends_on = [google_kms_crypto_key_iam_member.gcs_cmek]\n}\n\n"
            f'output "bucket_url" {{\n  value = google_storage_bucket.{ident}.url\n}}\n'
        )

        optional = []
        if transition_days:
            optional.append(f"a move to {colder} after {transition_days} days")
        if soft_delete_days:
            optional.append(f"a {soft_delete_days}-day soft-delete window")
        opt_text = " and ".join(optional)
        bucket_input = (f'resource "google_storage_bucket" "{ident}" {{\n  name     = "{name}"\n'
                        f'  location = "{location}"\n}}\n')
        instruction, input_text = seen.pick([
            (f"Create a Cloud Storage bucket called {name} in {location} for {purpose}. Turn on uniform "
             f"bucket-level access, enforce public access prevention, keep object versions but delete "
             f"noncurrent ones after {noncurrent_days} days, and encrypt with the KMS key I pass in.", ""),
            (f"I need a private GCS bucket ({storage_class} class, location {location}) to store "
             f"{purpose}. Requirements: CMEK encryption, versioning with at most {keep_versions} old "
             f"versions kept, access logs written to another bucket, labels team={team} and env={env}.", ""),
            (f"Terraform for the `{name}` bucket: {purpose}, no public access whatsoever, "
             f"customer-managed encryption, usage logging, and lifecycle cleanup of old versions "
             f"after {noncurrent_days} days.", ""),
            (f"Harden this bucket for {purpose}: no public access, uniform IAM, versioning, "
             f"CMEK from var.kms_key_id, access logging, and purge noncurrent versions after "
             f"{noncurrent_days} days.", bucket_input),
            (f"{upper_first(purpose)} go into {name} ({location}). Make sure that bucket can never be made "
             f"public, is encrypted with our own key, logs access, and only keeps {keep_versions} previous "
             "versions of any object.", ""),
        ], i, f" Also add {opt_text}." if opt_text else "")

        prose = [
            rng.choice([
                "Uniform bucket-level access disables object ACLs so IAM is the only way in, and "
                "`public_access_prevention = \"enforced\"` rejects allUsers grants even if one is added later.",
                "Public access prevention is enforced and object ACLs are switched off through uniform "
                "bucket-level access, so nobody outside the project's IAM policy can read the data.",
            ]),
            "Objects are encrypted with your KMS key; the Cloud Storage service agent gets encrypter/decrypter "
            "on that key first, because the bucket cannot use the key without it.",
            f"Versioning keeps overwritten objects recoverable, while two lifecycle rules drop noncurrent versions "
            f"after {noncurrent_days} days or once more than {keep_versions} newer ones exist.",
        ]
        if transition_days:
            prose.append(f"Objects move to {colder} after {transition_days} days, which cuts storage cost for "
                         "data that is rarely read by then.")
        elif soft_delete_days:
            prose.append(f"Soft delete keeps deleted objects restorable for {soft_delete_days} days.")
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (key ring, key purpose in words)
KMS_RINGS = [
    ("payments-keys", "card tokenisation data"),
    ("analytics-keys", "the analytics warehouse"),
    ("backup-keys", "database backups"),
    ("identity-keys", "customer identity records"),
    ("media-keys", "stored media files"),
    ("ledger-keys", "the financial ledger service"),
    ("telemetry-keys", "telemetry pipelines"),
    ("hr-keys", "HR documents"),
]
KEY_SETS = [["data"], ["storage", "pubsub"], ["primary"], ["records", "exports", "backups"], ["app"]]


def kms_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (ring, purpose) in zip(template_order(rng, count, 5), rng.sample(KMS_RINGS, count), strict=True):
        region = rng.choice(REGIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        keys = rng.choice(KEY_SETS)
        rotation_days = rng.choice([30, 45, 60, 90])
        destroy_days = rng.choice([7, 15, 30])
        protection = rng.choice(["SOFTWARE", "HSM"])
        split_roles = rng.random() < 0.5
        labels = make_labels(rng, team, env)

        if len(keys) == 1:
            key_head = f'resource "google_kms_crypto_key" "{keys[0]}" {{\n  name                       = "{keys[0]}"\n'
            key_ref = f"google_kms_crypto_key.{keys[0]}.id"
        else:
            key_list = ", ".join(f'"{k}"' for k in keys)
            key_head = ('resource "google_kms_crypto_key" "this" {\n'
                        f"  for_each = toset([{key_list}])\n\n"
                        "  name                       = each.key\n")
            key_ref = f'google_kms_crypto_key.this["{keys[0]}"].id'
        if split_roles:
            iam = ("# Writers may only encrypt and readers may only decrypt, so neither side holds both rights.\n"
                   'resource "google_kms_crypto_key_iam_member" "encrypter" {\n'
                   f"  crypto_key_id = {key_ref}\n"
                   '  role          = "roles/cloudkms.cryptoKeyEncrypter"\n'
                   '  member        = "serviceAccount:${var.writer_service_account}"\n}\n\n'
                   'resource "google_kms_crypto_key_iam_member" "decrypter" {\n'
                   f"  crypto_key_id = {key_ref}\n"
                   '  role          = "roles/cloudkms.cryptoKeyDecrypter"\n'
                   '  member        = "serviceAccount:${var.reader_service_account}"\n}\n')
            sa_vars = (variable("writer_service_account", "Email of the service account that encrypts.") + "\n"
                       + variable("reader_service_account", "Email of the service account that decrypts."))
        else:
            iam = ('resource "google_kms_crypto_key_iam_member" "app" {\n'
                   f"  crypto_key_id = {key_ref}\n"
                   '  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"\n'
                   '  member        = "serviceAccount:${var.app_service_account}"\n}\n')
            sa_vars = variable("app_service_account", "Email of the workload that uses the key.")
        code = (
            header(region) + "\n" + sa_vars + "\n"
            + f'resource "google_kms_key_ring" "this" {{\n  name     = "{ring}"\n  location = "{region}"\n}}\n\n'
            + key_head
            + "  key_ring                   = google_kms_key_ring.this.id\n"
            '  purpose                    = "ENCRYPT_DECRYPT"\n'
            f'  rotation_period            = "{rotation_days * 86400}s"\n'
            f'  destroy_scheduled_duration = "{destroy_days * 86400}s"\n\n'
            '  version_template {\n    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"\n'
            f'    protection_level = "{protection}"\n  }}\n\n'
            + hcl_map("labels", labels)
            + "\n  # Destroying a key makes everything it encrypted unreadable; Terraform must never do it.\n"
            "  lifecycle {\n    prevent_destroy = true\n  }\n}\n\n"
            + iam
        )
        key_words = f"a key named {keys[0]}" if len(keys) == 1 else f"keys named {', '.join(keys)}"
        access = ("one service account that may only encrypt and another that may only decrypt" if split_roles
                  else "encrypt/decrypt rights for a single application service account")
        options = [
            (f"Set up a Cloud KMS key ring `{ring}` in {region} with {key_words} for {purpose}. "
             f"Rotate every {rotation_days} days, use {protection} protection, and grant {access}.", ""),
            (f"Write Terraform for customer-managed encryption keys protecting {purpose}: ring {ring}, "
             f"{key_words}, automatic rotation after {rotation_days} days, a {destroy_days}-day "
             f"destroy delay, and IAM limited to {access}.", ""),
            (f"We need CMEK for {purpose} in {region}. Please create the key ring and {key_words} "
             f"({protection}), make sure Terraform can't delete them, and give {access}.", ""),
            (f"KMS for the {team} team ({env}): {key_words} under ring {ring}, {protection.lower()}-backed, new "
             f"key version every {rotation_days} days. Access: {access}.", ""),
        ]
        if len(keys) == 1:  # the "fix this key" prompt only fits a single existing key
            old_key = (f'resource "google_kms_key_ring" "this" {{\n  name     = "{ring}"\n'
                       f'  location = "{region}"\n}}\n\n'
                       f'resource "google_kms_crypto_key" "{keys[0]}" {{\n  name     = "{keys[0]}"\n'
                       "  key_ring = google_kms_key_ring.this.id\n}\n")
            options.append((f"This key for {purpose} never rotates and could be destroyed by a bad plan. Fix "
                            f"that: rotate every {rotation_days} days, block deletion, wait {destroy_days} days "
                            f"before destroying a version, and give {access}.", old_key))
        instruction, input_text = seen.pick(options, i)
        prose = [
            f"Each key rotates automatically every {rotation_days} days, so new data gets a fresh key version "
            "while older versions stay available to decrypt what they protected.",
            "`prevent_destroy` stops a plan from deleting the key, and a scheduled-destroy delay of "
            f"{destroy_days} days leaves time to restore a version destroyed by mistake.",
            "Access is granted on the key itself rather than on the project, so the service account cannot use "
            "any other key." if not split_roles else
            "Encrypt and decrypt are granted separately on the key itself, which keeps producers from reading "
            "data back and limits what a leaked credential can do.",
        ]
        if protection == "HSM":
            prose.append("HSM protection keeps the key material in FIPS 140-2 Level 3 hardware.")
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = bucket_family(rng, seen) + kms_family(rng, seen)
    return finish(drafts, rng)
