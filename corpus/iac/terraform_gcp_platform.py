"""Terraform examples for Google Cloud identity and supply chain: service accounts with narrow IAM,
Artifact Registry repositories, and Secret Manager secrets."""

import random

from corpus.iac.terraform_gcp import (
    ENVS,
    REGIONS,
    TEAMS,
    Distinct,
    attrs,
    draft,
    finish,
    header,
    template_order,
    upper_first,
    variable,
)

# Each grant: (resource type, scope attribute, variable holding the scope, role, words).
GRANTS = {
    "read_bucket": ("google_storage_bucket_iam_member", "bucket", "source_bucket", "roles/storage.objectViewer",
                    "read objects in the {v}"),
    "write_bucket": ("google_storage_bucket_iam_member", "bucket", "output_bucket", "roles/storage.objectCreator",
                     "create (not overwrite or delete) objects in the {v}"),
    "publish": ("google_pubsub_topic_iam_member", "topic", "events_topic", "roles/pubsub.publisher",
                "publish to the {v}"),
    "subscribe": ("google_pubsub_subscription_iam_member", "subscription", "work_subscription",
                  "roles/pubsub.subscriber", "pull from the {v}"),
    "secret": ("google_secret_manager_secret_iam_member", "secret_id", "api_secret",
               "roles/secretmanager.secretAccessor", "read the {v}"),
    "bigquery": ("google_bigquery_dataset_iam_member", "dataset_id", "reporting_dataset",
                 "roles/bigquery.dataEditor", "write tables in the {v}"),
    "registry": ("google_artifact_registry_repository_iam_member", "repository", "image_repository",
                 "roles/artifactregistry.reader", "pull images from the {v}"),
}
# (account id, what it does, grants it needs, Kubernetes namespace if it runs on GKE)
WORKLOADS = [
    ("report-builder", "builds nightly PDF reports", ["read_bucket", "write_bucket", "bigquery"], "reports"),
    ("etl-loader", "loads partner files into BigQuery", ["read_bucket", "bigquery"], ""),
    ("order-events", "publishes order events", ["publish", "secret"], "orders"),
    ("thumbnailer", "resizes uploaded images", ["subscribe", "read_bucket", "write_bucket"], ""),
    ("invoice-mailer", "emails invoices", ["subscribe", "secret"], "billing"),
    ("search-indexer", "indexes catalogue changes", ["subscribe", "registry"], "search"),
    ("backup-agent", "copies database exports off-site", ["read_bucket", "write_bucket"], ""),
    ("webhook-relay", "forwards partner webhooks", ["publish", "secret", "registry"], "edge"),
]


def service_account_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (account, job, grants, namespace) in zip(template_order(rng, count, 4), rng.sample(WORKLOADS, count),
                                                    strict=True):
        region = rng.choice(REGIONS)
        team = rng.choice(TEAMS)
        use_wi = bool(namespace) and rng.random() < 0.7
        log_metrics = rng.random() < 0.6
        blocks, variables, words = [], [], []
        for key in grants:
            rtype, scope, var_name, role, text = GRANTS[key]
            variables.append(variable(var_name, f"Name of the {var_name.replace('_', ' ')}."))
            words.append(text.format(v=var_name.replace("_", " ")))
            blocks.append(f'resource "{rtype}" "{key}" {{\n'
                          + attrs([(scope, f"var.{var_name}"), ("role", f'"{role}"'),
                                   ("member", "google_service_account.this.member")])
                          + "}\n")
        if log_metrics:
            blocks.append(
                "# Logging and metrics roles only exist at project level; they grant write access to telemetry.\n"
                'resource "google_project_iam_member" "telemetry" {\n'
                '  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])\n\n'
                "  project = var.project_id\n  role    = each.key\n  member  = google_service_account.this.member\n}\n")
        if use_wi:
            blocks.append(
                f"# Pods using the {namespace}/{account} Kubernetes service account act as this identity, so no\n"
                "# key file has to be created or mounted.\n"
                'resource "google_service_account_iam_member" "workload_identity" {\n'
                "  service_account_id = google_service_account.this.name\n"
                '  role               = "roles/iam.workloadIdentityUser"\n'
                f'  member             = "serviceAccount:${{var.project_id}}.svc.id.goog[{namespace}/{account}]"\n}}\n')
        code = (
            header(region) + "\n" + "\n".join(variables) + "\n"
            + 'resource "google_service_account" "this" {\n'
            f'  account_id   = "{account}"\n  display_name = "{upper_first(account.replace("-", " "))}"\n'
            f'  description  = "Owned by {team}: {job}. Keyless; no user-managed keys."\n}}\n\n'
            + "\n".join(blocks)
        )
        grant_text = "; ".join(words)
        extra = []
        if log_metrics:
            extra.append("write logs and metrics")
        if use_wi:
            extra.append(f"be usable from GKE pods in namespace {namespace} via Workload Identity")
        extra_text = f" It should also {' and '.join(extra)}." if extra else ""
        instruction, _ = seen.pick([
            (f"Create a service account `{account}` for the job that {job}. It may only: "
             f"{grant_text}. Bind each role on the individual resource, not the project.", ""),
            (f"Least-privilege identity for a workload that {job} ({team} team): it needs to "
             f"{grant_text}. No basic roles, no service account keys.", ""),
            (f"Terraform a GCP service account called {account}. Permissions: {grant_text}. "
             "Everything else must be denied.", ""),
            (f"The {team} team's {account} job ({job}) currently runs as the default compute account with "
             f"Editor. Give it its own identity that can {grant_text} and nothing more.", ""),
        ], i, extra_text)
        prose = [
            "Every role is bound on the single bucket, topic, secret or dataset the workload touches, so the "
            "account cannot reach sibling resources in the project.",
            "No `google_service_account_key` is created: the workload gets credentials from the runtime "
            + ("through Workload Identity, which avoids long-lived JSON keys." if use_wi
               else "it runs on, which avoids long-lived JSON keys."),
        ]
        if log_metrics:
            prose.append("Log and metric writers are the only project-level roles, because those permissions "
                         "cannot be scoped any narrower.")
        if "write_bucket" in grants:
            prose.append("`objectCreator` lets it add files without being able to read, replace or delete them.")
        drafts.append(draft(instruction, prose[:4], code))
    return drafts


# (repository id, format, what it stores)
REPOSITORIES = [
    ("app-images", "DOCKER", "application container images"),
    ("base-images", "DOCKER", "hardened base images"),
    ("ml-serving", "DOCKER", "model-serving containers"),
    ("python-libs", "PYTHON", "internal Python packages"),
    ("npm-internal", "NPM", "private npm packages"),
    ("jvm-releases", "MAVEN", "Maven release artifacts"),
    ("edge-images", "DOCKER", "edge proxy images"),
]


def artifact_registry_family(rng: random.Random, seen: Distinct, count: int = 6) -> list[dict]:
    drafts = []
    for i, (repo, fmt, what) in zip(template_order(rng, count, 4), rng.sample(REPOSITORIES, count), strict=True):
        region = rng.choice(REGIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        untagged_days = rng.choice([7, 14, 30])
        keep = rng.choice([5, 10, 20, 50])
        format_block = ""
        if fmt == "DOCKER":
            format_block = "  docker_config {\n    immutable_tags = true\n  }\n\n"
        elif fmt == "MAVEN":
            format_block = '  maven_config {\n    version_policy = "RELEASE"\n  }\n\n'
        code = (
            header(region, default_labels={"team": team, "env": env}) + "\n"
            + variable("kms_key_id", f"Cloud KMS key in {region} for the repository.") + "\n"
            + variable("ci_service_account", "Email of the CI identity that publishes artifacts.") + "\n"
            + variable("runtime_service_account", "Email of the runtime identity that pulls artifacts.") + "\n"
            + 'data "google_project" "current" {}\n\n'
            "# Artifact Registry encrypts on our behalf; its service agent must be allowed to use the key.\n"
            'resource "google_kms_crypto_key_iam_member" "registry_cmek" {\n'
            "  crypto_key_id = var.kms_key_id\n"
            '  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"\n'
            '  member        = "serviceAccount:service-${data.google_project.current.number}'
            '@gcp-sa-artifactregistry.iam.gserviceaccount.com"\n}\n\n'
            'resource "google_artifact_registry_repository" "this" {\n'
            f'  repository_id          = "{repo}"\n  location               = "{region}"\n'
            f'  format                 = "{fmt}"\n  description            = "{upper_first(what)}"\n'
            "  kms_key_name           = var.kms_key_id\n  cleanup_policy_dry_run = false\n\n"
            + format_block
            + '  cleanup_policies {\n    id     = "delete-stale-untagged"\n    action = "DELETE"\n\n'
            f'    condition {{\n      tag_state  = "UNTAGGED"\n      older_than = "{untagged_days * 86400}s"\n'
            "    }\n  }\n\n"
            '  cleanup_policies {\n    id     = "keep-recent"\n    action = "KEEP"\n\n'
            f"    most_recent_versions {{\n      keep_count = {keep}\n    }}\n  }}\n\n"
            "  depends_on = [google_kms_crypto_key_iam_member.registry_cmek]\n}\n\n"
            'resource "google_artifact_registry_repository_iam_member" "ci_writer" {\n'
            "  location   = google_artifact_registry_repository.this.location\n"
            "  repository = google_artifact_registry_repository.this.name\n"
            '  role       = "roles/artifactregistry.writer"\n'
            '  member     = "serviceAccount:${var.ci_service_account}"\n}\n\n'
            'resource "google_artifact_registry_repository_iam_member" "runtime_reader" {\n'
            "  location   = google_artifact_registry_repository.this.location\n"
            "  repository = google_artifact_registry_repository.this.name\n"
            '  role       = "roles/artifactregistry.reader"\n'
            '  member     = "serviceAccount:${var.runtime_service_account}"\n}\n'
        )
        immutable = " Tags must be immutable." if fmt == "DOCKER" else ""
        instruction, _ = seen.pick([
            (f"Create an Artifact Registry {fmt.lower()} repository `{repo}` in {region} for {what}. "
             f"Encrypt it with our KMS key, delete untagged versions after {untagged_days} days but "
             f"always keep the newest {keep}, and give CI write and the runtime read access.", ""),
            (f"Terraform for a private {fmt} registry holding {what} ({team}, {env}): CMEK, "
             f"cleanup policies (untagged older than {untagged_days}d removed, {keep} most recent "
             "kept), writer role for the CI service account, reader for production.", ""),
            (f"We publish {what} from CI. Set up the {repo} repository in {region} with "
             f"customer-managed encryption, automatic cleanup after {untagged_days} days, a floor "
             f"of {keep} retained versions, and separate push/pull identities.", ""),
            (f"Storage costs for {what} keep growing. Define {repo} ({fmt}) so that stale untagged "
             f"versions disappear after {untagged_days} days while the last {keep} always survive; only "
             "the pipeline may push and only workloads may pull.", ""),
        ], i, immutable)
        prose = [
            "The repository is encrypted with your KMS key, and the Artifact Registry service agent is granted "
            "the key first because creation fails without it.",
            f"Cleanup deletes untagged versions older than {untagged_days} days, while the KEEP policy protects "
            f"the {keep} most recent versions; dry-run is off so the policies actually act.",
            "CI can push and the runtime identity can only pull, and both grants sit on this repository alone.",
        ]
        if fmt == "DOCKER":
            prose.append("Immutable tags stop a release tag from being silently repointed to a different image.")
        drafts.append(draft(instruction, prose, code))
    return drafts


# (secret id, what it holds, how the first value arrives: "var", "random" or "manual")
SECRETS = [
    ("stripe-api-key", "the Stripe API key", "var"),
    ("orders-db-password", "the orders database password", "random"),
    ("sendgrid-token", "the SendGrid token", "manual"),
    ("oauth-client-secret", "the OAuth client secret", "var"),
    ("analytics-db-password", "the analytics database password", "random"),
    ("pagerduty-key", "the PagerDuty integration key", "manual"),
    ("signing-key-pem", "the JWT signing key", "manual"),
]
REGION_PAIRS = [("europe-west1", "europe-west4"), ("us-central1", "us-east1"), ("asia-northeast1", "asia-south1"),
                ("europe-north1", "europe-west1"), ("us-east1", "us-west2")]


def secret_family(rng: random.Random, seen: Distinct, count: int = 6) -> list[dict]:
    drafts = []
    for i, (secret, what, source) in zip(template_order(rng, count, 4), rng.sample(SECRETS, count), strict=True):
        primary, secondary = rng.choice(REGION_PAIRS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        ttl_days = rng.choice([1, 3, 7])
        ident = secret.replace("-", "_")
        replicas = "".join(
            f"      replicas {{\n        location = \"{loc}\"\n\n        customer_managed_encryption {{\n"
            f"          kms_key_name = var.kms_keys[\"{loc}\"]\n        }}\n      }}\n"
            for loc in (primary, secondary))
        version = ""
        if source == "var":
            version = variable("initial_value", f"First value of {what}.", sensitive=True) + "\n"
        elif source == "random":
            version = ("# Generated, never typed in; it still lands in state, so the state backend must be "
                       "encrypted.\n"
                       'resource "random_password" "this" {\n  length  = 32\n  special = true\n}\n\n')
        if source != "manual":
            value = "var.initial_value" if source == "var" else "random_password.this.result"
            version += (f'resource "google_secret_manager_secret_version" "initial" {{\n'
                        f"  secret      = google_secret_manager_secret.{ident}.id\n  secret_data = {value}\n}}\n\n")
        code = (
            header(primary, with_random=source == "random", default_labels={"team": team, "env": env}) + "\n"
            + variable("kms_keys", "Cloud KMS key per replica location; the Secret Manager agent needs access.",
                       "map(string)") + "\n"
            + variable("accessor_service_account", "Email of the only identity allowed to read the secret.") + "\n"
            + f'resource "google_secret_manager_secret" "{ident}" {{\n  secret_id           = "{secret}"\n'
            f'  version_destroy_ttl = "{ttl_days * 86400}s"\n\n  replication {{\n    user_managed {{\n'
            + replicas + "    }\n  }\n}\n\n"
            + version
            + 'resource "google_secret_manager_secret_iam_member" "accessor" {\n'
            f"  secret_id = google_secret_manager_secret.{ident}.secret_id\n"
            '  role      = "roles/secretmanager.secretAccessor"\n'
            '  member    = "serviceAccount:${var.accessor_service_account}"\n}\n'
        )
        how = {"var": "take the first value from a sensitive variable",
               "random": "generate a random 32-character value",
               "manual": "leave adding the value to an operator so it never touches Terraform state"}[source]
        committed = f"# app.tfvars (currently committed to git)\n{ident} = \"s3cr3t-value-do-not-commit\"\n"
        instruction, input_text = seen.pick([
            (f"Store {what} in Secret Manager as `{secret}`, replicated to {primary} and "
             f"{secondary} with a customer-managed key per region. Only one service account may "
             f"read it, and {how}.", ""),
            (f"Terraform a secret for {what}: user-managed replication ({primary} + {secondary}), "
             f"CMEK, destroyed versions recoverable for {ttl_days} day(s), accessor role for a "
             f"single service account. Please {how}.", ""),
            (f"Move {what} out of our config into Secret Manager. Keep replicas in {primary} and "
             f"{secondary} encrypted with our KMS keys, grant access to just the app's service "
             f"account, and {how}.", committed),
            (f"Data residency says {what} may only live in {primary} and {secondary}. Create `{secret}` "
             f"accordingly, encrypted with regional keys, readable by a single identity ({team}, {env}); "
             f"{how}.", ""),
        ], i)
        prose = [
            f"Replication is user-managed, so the payload is stored only in {primary} and {secondary}, each "
            "replica encrypted with the KMS key for its region.",
            "The accessor role is granted on this one secret rather than the project, so the service account "
            "cannot list or read other secrets.",
            {"var": "The initial value comes from a variable marked sensitive, so it is redacted in plan output; "
                    "it is still kept in state, so keep the backend encrypted.",
             "random": "The value is generated by `random_password`, so nobody ever types or sees it.",
             "manual": "No version is created here: an operator adds the value with "
                       "`gcloud secrets versions add`, so it never appears in Terraform state."}[source],
            f"Destroyed versions can be restored for {ttl_days} day(s) through `version_destroy_ttl`.",
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = service_account_family(rng, seen) + artifact_registry_family(rng, seen) + secret_family(rng, seen)
    return finish(drafts, rng)
