"""Terraform examples for Google Cloud runtime and operations: internal Cloud Run services and log routing."""

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

# (service, what it does, container port, health path)
SERVICES = [
    ("orders-api", "the internal orders API", 8080, "/healthz"),
    ("pricing-engine", "the pricing engine", 8080, "/health"),
    ("pdf-renderer", "a PDF rendering service", 3000, "/ready"),
    ("fraud-scorer", "the fraud scoring model server", 8501, "/v1/models/fraud"),
    ("inventory-sync", "the inventory sync worker", 8080, "/healthz"),
    ("notification-hub", "the notification fan-out service", 9000, "/status"),
    ("geo-lookup", "a geolocation lookup API", 8080, "/livez"),
    ("audit-writer", "the audit trail writer", 8000, "/health"),
]
SIZES = [("1", "512Mi"), ("1", "1Gi"), ("2", "2Gi"), ("4", "4Gi")]
INGRESS = {"INGRESS_TRAFFIC_INTERNAL_ONLY": "internal traffic only",
           "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER": "internal traffic plus an external Application Load Balancer"}


def cloud_run_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (svc, what, port, path) in zip(template_order(rng, count, 4), rng.sample(SERVICES, count), strict=True):
        region = rng.choice(REGIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        cpu, memory = rng.choice(SIZES)
        min_i = rng.choice([0, 1, 2]) if env == "prod" else 0
        max_i = rng.choice([5, 10, 20, 50])
        concurrency = rng.choice([20, 40, 80])
        version = f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
        ingress = rng.choice(list(INGRESS))
        use_secret = rng.random() < 0.6
        use_vpc = rng.random() < 0.5
        ident = svc.replace("-", "_")
        env_block = ""
        secret_iam = ""
        variables = [variable("caller_service_account", "Email of the only identity allowed to invoke the service.")]
        if use_secret:
            variables.append(variable("db_password_secret", "Secret Manager secret ID holding the database password."))
            env_block = ('      env {\n        name = "DB_PASSWORD"\n'
                         "        value_source {\n          secret_key_ref {\n"
                         '            secret  = var.db_password_secret\n            version = "latest"\n'
                         "          }\n        }\n      }\n\n")
            secret_iam = ('\nresource "google_secret_manager_secret_iam_member" "runtime" {\n'
                          "  secret_id = var.db_password_secret\n"
                          '  role      = "roles/secretmanager.secretAccessor"\n'
                          "  member    = google_service_account.runtime.member\n}\n")
        vpc_block = ""
        if use_vpc:
            variables.append(variable("subnetwork", f"Subnet in {region} used for Direct VPC egress."))
            vpc_block = ("    vpc_access {\n      egress = \"PRIVATE_RANGES_ONLY\"\n\n      network_interfaces {\n"
                         "        subnetwork = var.subnetwork\n      }\n    }\n\n")
        code = (
            header(region, default_labels={"team": team, "env": env}) + "\n" + "\n".join(variables) + "\n"
            + 'resource "google_service_account" "runtime" {\n'
            f'  account_id   = "{svc}-run"\n  display_name = "{svc} Cloud Run runtime"\n}}\n\n'
            f'resource "google_cloud_run_v2_service" "{ident}" {{\n'
            f'  name                = "{svc}"\n  location            = "{region}"\n'
            f'  ingress             = "{ingress}"\n  deletion_protection = true\n\n'
            "  template {\n"
            + attrs([("service_account", "google_service_account.runtime.email"),
                     ("max_instance_request_concurrency", str(concurrency)), ("timeout", '"30s"')], 4)
            + f"\n    scaling {{\n      min_instance_count = {min_i}\n      max_instance_count = {max_i}\n    }}\n\n"
            + vpc_block
            + "    containers {\n"
            f'      image = "{region}-docker.pkg.dev/${{var.project_id}}/apps/{svc}:{version}"\n\n'
            f"      ports {{\n        container_port = {port}\n      }}\n\n"
            "      resources {\n        limits = {\n"
            f'          cpu    = "{cpu}"\n          memory = "{memory}"\n        }}\n      }}\n\n'
            + env_block
            + f'      startup_probe {{\n        http_get {{\n          path = "{path}"\n        }}\n      }}\n\n'
            f'      liveness_probe {{\n        http_get {{\n          path = "{path}"\n        }}\n      }}\n'
            "    }\n  }\n}\n\n"
            "# No allUsers binding: only the named caller can invoke the service.\n"
            f'resource "google_cloud_run_v2_service_iam_member" "invoker" {{\n'
            f"  name     = google_cloud_run_v2_service.{ident}.name\n"
            f"  location = google_cloud_run_v2_service.{ident}.location\n"
            '  role     = "roles/run.invoker"\n'
            '  member   = "serviceAccount:${var.caller_service_account}"\n}\n'
            + secret_iam
        )
        reach = INGRESS[ingress]
        extras = []
        if use_secret:
            extras.append("inject the database password from Secret Manager")
        if use_vpc:
            extras.append("route private-range egress through our VPC subnet")
        extra_text = f" Also {' and '.join(extras)}." if extras else ""
        public_service = (f'resource "google_cloud_run_v2_service" "{ident}" {{\n  name     = "{svc}"\n'
                          f'  location = "{region}"\n\n  template {{\n    containers {{\n'
                          f'      image = "{region}-docker.pkg.dev/my-project/apps/{svc}:latest"\n'
                          "    }\n  }\n}\n\n"
                          f'resource "google_cloud_run_v2_service_iam_member" "public" {{\n'
                          f"  name     = google_cloud_run_v2_service.{ident}.name\n"
                          f"  location = google_cloud_run_v2_service.{ident}.location\n"
                          '  role     = "roles/run.invoker"\n  member   = "allUsers"\n}\n')
        instruction, input_text = seen.pick([
            (f"Deploy {what} ({svc}:{version}) to Cloud Run in {region}. Accept {reach}, run it as "
             f"a dedicated service account, limit it to {cpu} vCPU / {memory}, and scale "
             f"{min_i}-{max_i} instances.", ""),
            (f"Terraform a Cloud Run v2 service `{svc}` for the {team} team: port {port}, health "
             f"checks on {path}, {concurrency} concurrent requests per instance, up to {max_i} "
             "instances, and only one caller service account allowed to invoke it.", ""),
            (f"{upper_first(what)} must not be reachable from the internet. Write the Cloud Run "
             f"service ({region}, image tag {version}) with {reach}, its own runtime identity and "
             "startup/liveness probes.", ""),
            (f"Lock down this Cloud Run service for {what}: no public invoker, {reach}, a "
             f"dedicated service account, resource limits ({cpu} CPU, {memory}) and probes on {path}.",
             public_service),
        ], i, extra_text)
        prose = [
            (f"Ingress is `{ingress}`, so requests from the public internet never reach the container"
             if ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY" else
             f"Ingress is `{ingress}`: besides internal callers only Cloud Load Balancing can reach the service, "
             "so the default run.app URL is closed to the internet")
            + ", and the only invoker binding is for the caller's service account.",
            "The service runs as its own service account instead of the Compute Engine default, which has far "
            "broader project access.",
            f"The image is pinned to tag {version}, CPU and memory are capped, and startup plus liveness probes "
            f"on {path} keep broken revisions from taking traffic.",
        ]
        if use_secret:
            prose.append("The database password is read from Secret Manager at startup rather than baked into "
                         "the revision, and the runtime account may read only that secret.")
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (bucket id, log filter, what it captures)
LOG_ROUTES = [
    ("security-audit", 'logName:"cloudaudit.googleapis.com"', "all Cloud Audit Logs"),
    ("gke-errors", 'resource.type="k8s_container" AND severity>=ERROR', "GKE container errors"),
    ("lb-requests", 'resource.type="http_load_balancer"', "load balancer request logs"),
    ("iam-changes", 'protoPayload.serviceName="iam.googleapis.com"', "IAM policy and key changes"),
    ("run-errors", 'resource.type="cloud_run_revision" AND severity>=WARNING', "Cloud Run warnings and errors"),
    ("firewall-hits", 'logName:"compute.googleapis.com%2Ffirewall"', "firewall rule hits"),
]


def logging_family(rng: random.Random, seen: Distinct, count: int = 5) -> list[dict]:
    drafts = []
    for i, (bucket, log_filter, what) in zip(template_order(rng, count, 3), rng.sample(LOG_ROUTES, count),
                                             strict=True):
        region = rng.choice(REGIONS)
        team = rng.choice(TEAMS)
        env = rng.choice(ENVS)
        retention = rng.choice([90, 180, 365, 400, 730])
        analytics = rng.random() < 0.5
        bigquery = rng.random() < 0.4
        ident = bucket.replace("-", "_")
        escaped = log_filter.replace('"', '\\"')
        if bigquery:
            dataset = bucket.replace("-", "_") + "_logs"
            destination = (
                variable("kms_key_id", "Cloud KMS key for the dataset; the BigQuery agent needs access.") + "\n"
                + f'resource "google_bigquery_dataset" "{ident}" {{\n'
                + attrs([("dataset_id", f'"{dataset}"'), ("location", f'"{region}"'),
                         ("default_partition_expiration_ms", str(retention * 86400000)),
                         ("delete_contents_on_destroy", "false")])
                + "\n  default_encryption_configuration {\n    kms_key_name = var.kms_key_id\n  }\n}\n\n"
            )
            dest_ref = f'"bigquery.googleapis.com/${{google_bigquery_dataset.{ident}.id}}"'
            sink_extra = "\n  bigquery_options {\n    use_partitioned_tables = true\n  }\n"
            writer = ('resource "google_bigquery_dataset_iam_member" "sink_writer" {\n'
                      f"  dataset_id = google_bigquery_dataset.{ident}.dataset_id\n"
                      '  role       = "roles/bigquery.dataEditor"\n'
                      f"  member     = google_logging_project_sink.{ident}.writer_identity\n}}\n")
        else:
            destination = (
                f'resource "google_logging_project_bucket_config" "{ident}" {{\n'
                + attrs([("project", "var.project_id"), ("location", f'"{region}"'), ("bucket_id", f'"{bucket}"'),
                         ("retention_days", str(retention)), ("enable_analytics", str(analytics).lower()),
                         ("description", f'"{upper_first(what)} kept {retention} days"')])
                + "}\n\n"
            )
            dest_ref = f'"logging.googleapis.com/${{google_logging_project_bucket_config.{ident}.id}}"'
            sink_extra = ""
            writer = ""
        code = (
            header(region) + "\n" + destination
            + f'resource "google_logging_project_sink" "{ident}" {{\n'
            + attrs([("name", f'"{bucket}-sink"'), ("destination", dest_ref), ("filter", f'"{escaped}"'),
                     ("unique_writer_identity", "true")])
            + sink_extra
            + '\n  exclusions {\n    name   = "drop-debug"\n    filter = "severity<=DEBUG"\n  }\n}\n'
            + ("\n" + writer if writer else "")
        )
        target = (f"a CMEK-encrypted BigQuery dataset whose partitions expire after {retention} days" if bigquery
                  else f"a dedicated log bucket that keeps them {retention} days")
        if analytics and not bigquery:
            target += " with Log Analytics enabled"
        instruction, _ = seen.pick([
            (f"Route {what} in {region} to {target}. Debug entries should be dropped and the sink "
             f"must use its own writer identity. (Owner: {team}, {env}.)", ""),
            (f"Create a project log sink `{bucket}-sink` with filter `{log_filter}` that sends "
             f"entries to {target}.", ""),
            (f"Our {team} team needs {what} retained for {retention} days for investigations. "
             f"Terraform the sink and {('dataset' if bigquery else 'log bucket')} in {region}.", ""),
        ], i)
        prose = [
            f"The sink matches `{log_filter}` and excludes DEBUG entries, which keeps noise and cost down.",
            "`unique_writer_identity = true` gives the sink its own service account"
            + (", and that identity gets dataEditor on this dataset only." if bigquery
               else ", so access can be granted to it alone."),
            (f"The dataset is encrypted with your KMS key and the sink writes date-partitioned tables, so "
             f"partitions older than {retention} days are dropped automatically." if bigquery else
             f"The log bucket keeps entries for {retention} days in {region}, independent of the _Default bucket's "
             "30-day retention."),
        ]
        drafts.append(draft(instruction, prose, code))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = cloud_run_family(rng, seen) + logging_family(rng, seen)
    return finish(drafts, rng)
