"""Terraform examples for Google Cloud networking: VPC with subnets, firewall rules, and private Cloud SQL."""

import ipaddress
import random

from corpus.iac.terraform_gcp import (
    ENVS,
    REGIONS,
    TEAMS,
    Distinct,
    attrs,
    draft,
    finish,
    hcl_map,
    header,
    template_order,
    variable,
)

# (network name, what runs in it, subnet roles)
NETWORKS = [
    ("core-vpc", "shared backend services", ["app", "data"]),
    ("edge-net", "public-facing web tier behind a load balancer", ["web"]),
    ("analytics-vpc", "the analytics platform", ["ingest", "compute", "data"]),
    ("payments-net", "the PCI-scoped payments stack", ["app", "db"]),
    ("ml-vpc", "model training jobs", ["train"]),
    ("ops-net", "CI runners and internal tooling", ["runners", "tools"]),
    ("iot-vpc", "device ingestion", ["ingest", "backend"]),
    ("corp-apps-net", "internal line-of-business apps", ["apps"]),
]
IAP_RANGE = "35.235.240.0/20"  # Google's Identity-Aware Proxy TCP forwarding range
FLOW_INTERVALS = ["INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN"]


def vpc_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (net, purpose, roles) in zip(template_order(rng, count, 4), rng.sample(NETWORKS, count), strict=True):
        region, team = rng.choice(REGIONS), rng.choice(TEAMS)
        base = ipaddress.ip_network(f"10.{rng.randint(8, 200)}.0.0/16")
        prefix = rng.choice([20, 22, 24])
        cidrs = [str(c) for c in list(base.subnets(new_prefix=prefix))[: len(roles)]]
        interval = rng.choice(FLOW_INTERVALS)
        sampling = rng.choice(["0.25", "0.5", "1.0"])
        routing = rng.choice(["REGIONAL", "GLOBAL"])
        nat = rng.random() < 0.5
        gke = not nat and rng.random() < 0.6
        ipv6 = rng.random() < 0.3

        width = max(len(r) for r in roles)
        subnet_map = "".join(f'    {r.ljust(width)} = {{ region = "{region}", cidr = "{c}" }}\n'
                             for r, c in zip(roles, cidrs, strict=True))
        net_attrs = [("name", f'"{net}"'), ("auto_create_subnetworks", "false"), ("routing_mode", f'"{routing}"')]
        sub_attrs = [("name", f'"{net}-${{each.key}}"'), ("network", "google_compute_network.this.id"),
                     ("region", "each.value.region"), ("ip_cidr_range", "each.value.cidr"),
                     ("private_ip_google_access", "true")]
        if ipv6:
            net_attrs.append(("enable_ula_internal_ipv6", "true"))
            sub_attrs += [("stack_type", '"IPV4_IPV6"'), ("ipv6_access_type", '"INTERNAL"'),
                          ("private_ipv6_google_access", '"ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE"')]
        flow_block = (f'  log_config {{\n    aggregation_interval = "{interval}"\n'
                      f"    flow_sampling        = {sampling}\n"
                      '    metadata             = "INCLUDE_ALL_METADATA"\n  }\n')
        code = (
            header(region) + "\n"
            + 'resource "google_compute_network" "this" {\n' + attrs(net_attrs) + "}\n\n"
            + f"locals {{\n  subnets = {{\n{subnet_map}  }}\n}}\n\n"
            + 'resource "google_compute_subnetwork" "this" {\n  for_each = local.subnets\n\n'
            + attrs(sub_attrs) + "\n" + flow_block + "}\n\n"
            "# A custom network admits no ingress by default; this opens SSH only to Google's IAP range.\n"
            'resource "google_compute_firewall" "allow_iap_ssh" {\n'
            f'  name          = "{net}-allow-iap-ssh"\n  network       = google_compute_network.this.id\n'
            f'  direction     = "INGRESS"\n  source_ranges = ["{IAP_RANGE}"]\n  target_tags   = ["iap-ssh"]\n\n'
            '  allow {\n    protocol = "tcp"\n    ports    = ["22"]\n  }\n\n'
            '  log_config {\n    metadata = "INCLUDE_ALL_METADATA"\n  }\n}\n'
        )
        gke_cidr = pods = services = ""
        if gke:
            gke_cidr = str(list(base.subnets(new_prefix=prefix))[len(roles)])
            second = list(ipaddress.ip_network(f"100.{rng.randint(64, 120)}.0.0/16").subnets(new_prefix=17))
            pods, services = str(second[0]), str(next(second[1].subnets(new_prefix=20)))
            code += (
                "\n# GKE needs alias ranges for Pods and Services; they live outside the VPC's primary space.\n"
                'resource "google_compute_subnetwork" "gke" {\n'
                f'  name                     = "{net}-gke"\n'
                "  network                  = google_compute_network.this.id\n"
                f'  region                   = "{region}"\n'
                f'  ip_cidr_range            = "{gke_cidr}"\n'
                "  private_ip_google_access = true\n\n"
                f'  secondary_ip_range {{\n    range_name    = "pods"\n    ip_cidr_range = "{pods}"\n  }}\n\n'
                f'  secondary_ip_range {{\n    range_name    = "services"\n    ip_cidr_range = "{services}"\n  }}\n\n'
                + flow_block + "}\n"
            )
        if nat:
            code += (
                "\n# Cloud NAT gives instances without external IPs outbound access, and logs failed translations.\n"
                'resource "google_compute_router" "this" {\n'
                f'  name    = "{net}-router"\n  network = google_compute_network.this.id\n'
                f'  region  = "{region}"\n}}\n\n'
                'resource "google_compute_router_nat" "this" {\n'
                f'  name                               = "{net}-nat"\n'
                "  router                             = google_compute_router.this.name\n"
                "  region                             = google_compute_router.this.region\n"
                '  nat_ip_allocate_option             = "AUTO_ONLY"\n'
                '  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"\n\n'
                '  log_config {\n    enable = true\n    filter = "ERRORS_ONLY"\n  }\n}\n'
            )

        subnet_words = ", ".join(f"{r} ({c})" for r, c in zip(roles, cidrs, strict=True))
        extras = []
        if nat:
            extras.append("Cloud NAT for outbound traffic")
        if gke:
            extras.append(f"a GKE subnet {gke_cidr} with Pod range {pods} and Service range {services}")
        if ipv6:
            extras.append("dual-stack subnets with internal IPv6")
        extras.append(rng.choice(["an SSH rule limited to IAP", "SSH allowed from IAP and nowhere else"]))
        extra_text = f" Include {', '.join(extras[:-1])}{' and ' if len(extras) > 1 else ''}{extras[-1]}."
        pct = int(float(sampling) * 100)
        instruction, _ = seen.pick([
            (f"Create a custom-mode VPC called {net} for {purpose} with these subnets in {region}: "
             f"{subnet_words}. Enable Private Google Access and VPC flow logs ({pct}% sampling).", ""),
            (f"Terraform for a GCP network `{net}` ({routing.lower()} dynamic routing) hosting "
             f"{purpose}. Subnets: {subnet_words}. No auto-created subnets; every subnet needs "
             f"flow logs aggregated at {interval.removeprefix('INTERVAL_').lower()} and private "
             "access to Google APIs.", ""),
            (f"Lay out networking for {purpose}: one VPC ({net}), subnet(s) {subnet_words}, "
             f"flow logs with full metadata at {pct}% sampling, and Google API access without "
             "external IPs.", ""),
            (f"The {team} team is moving {purpose} off the default network. Build {net} in {region} with "
             f"{len(roles)} planned subnet(s): {subnet_words}; VMs there have no public IPs but must reach "
             "Google APIs, and we want flow logs for audits.", ""),
        ], i, extra_text)
        prose = [
            "Auto-created subnets are disabled so every range is planned explicitly instead of one per region.",
            "Private Google Access lets instances without external IPs reach Google APIs, and flow logs with "
            f"full metadata at {pct}% sampling give you traffic records for troubleshooting and forensics.",
        ]
        prose.append("The only ingress rule admits SSH from Google's IAP range to instances tagged `iap-ssh`.")
        if nat:
            prose.append("Cloud NAT handles outbound internet traffic, so no VM needs a public address.")
        if gke:
            prose.append("The GKE subnet carries separate secondary ranges for Pods and Services, which a "
                         "VPC-native cluster requires.")
        if ipv6:
            prose.append("Subnets are dual-stack with internal IPv6, and private IPv6 Google access is enabled too.")
        drafts.append(draft(instruction, prose[:4], code))
    return drafts


HEALTH_RANGES = '["35.191.0.0/16", "130.211.0.0/22"]'
# (rule key, protocol ports, source kind, words)
FIREWALL_RULES = [
    ("ssh-iap", '["22"]', "iap", "SSH only through IAP TCP forwarding"),
    ("rdp-iap", '["3389"]', "iap", "RDP only through IAP TCP forwarding"),
    ("https-corp", '["443"]', "corp", "HTTPS from the corporate ranges"),
    ("health-checks", "app", "health", "load balancer health checks on the app port"),
    ("postgres-app", '["5432"]', "app_subnet", "PostgreSQL from the application subnet"),
    ("metrics", '["9090", "9100"]', "monitoring", "Prometheus scrapes from the monitoring subnet"),
]
TIERS = ["web", "api", "bastion", "db", "worker", "jump", "batch", "cache"]


def _firewall(name: str, net_prefix: str, source: str, target: tuple[str, str], ports: str, priority: int) -> str:
    ident = name.replace("-", "_")
    return (
        f'resource "google_compute_firewall" "allow_{ident}" {{\n'
        + attrs([("name", f'"{net_prefix}-allow-{name}"'), ("network", "var.network"), ("direction", '"INGRESS"'),
                 ("priority", str(priority)), ("source_ranges", source), target])
        + f'\n  allow {{\n    protocol = "tcp"\n    ports    = {ports}\n  }}\n\n'
        '  log_config {\n    metadata = "INCLUDE_ALL_METADATA"\n  }\n}\n'
    )


def firewall_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, tier in zip(template_order(rng, count, 5), rng.sample(TIERS, count), strict=True):
        region = rng.choice(REGIONS)
        rules = rng.sample(FIREWALL_RULES, rng.choice([2, 3]))
        app_port = rng.choice([8080, 8443, 3000, 9000])
        by_sa = rng.random() < 0.5
        deny_all = rng.random() < 0.6
        app_cidr = f"10.{rng.randint(10, 90)}.{rng.choice([0, 16, 32])}.0/20"
        target = (("target_service_accounts", "[var.target_service_account]") if by_sa
                  else ("target_tags", f'["{tier}"]'))
        kinds = {kind for _, _, kind, _ in rules}
        variables = [variable("network", "Self link or name of the VPC network.")]
        if by_sa:
            variables.append(variable("target_service_account", f"Service account email of the {tier} instances."))
        if "corp" in kinds:
            variables.append(
                'variable "corporate_cidrs" {\n  description = "Office and VPN egress ranges allowed in."\n'
                "  type        = list(string)\n\n  validation {\n"
                '    condition     = !contains(var.corporate_cidrs, "0.0.0.0/0")\n'
                '    error_message = "Open-to-the-world ranges are not allowed."\n  }\n}\n')
        sources = {"iap": f'["{IAP_RANGE}"]', "corp": "var.corporate_cidrs", "health": HEALTH_RANGES,
                   "app_subnet": f'["{app_cidr}"]', "monitoring": '["10.250.0.0/24"]'}
        body = "\n".join(
            _firewall(name, tier, sources[kind], target, f'["{app_port}"]' if ports == "app" else ports,
                      1000 + 10 * n)
            for n, (name, ports, kind, _) in enumerate(rules))
        if deny_all:
            body += (
                "\n# Everything not allowed above is dropped and logged, which makes probing visible.\n"
                'resource "google_compute_firewall" "deny_all_ingress" {\n'
                f'  name          = "{tier}-deny-all-ingress"\n  network       = var.network\n'
                '  direction     = "INGRESS"\n  priority      = 65000\n  source_ranges = ["0.0.0.0/0"]\n\n'
                '  deny {\n    protocol = "all"\n  }\n\n  log_config {\n    metadata = "INCLUDE_ALL_METADATA"\n  }\n}\n'
            )
        code = header(region) + "\n" + "\n".join(variables) + "\n" + body
        words = [w.replace("app port", f"app port {app_port}") for *_, w in rules]
        rule_text = "; ".join(words)
        who = "instances running as a given service account" if by_sa else f"instances tagged `{tier}`"
        instruction, _ = seen.pick([
            (f"Write GCP firewall rules for the {tier} tier. Allow {rule_text}. Apply them only to "
             f"{who} and log every match.", ""),
            (f"Our {tier} VMs in {region} need tight ingress: {rule_text}. Nothing may be open to 0.0.0.0/0. "
             f"Target {who}.", ""),
            (f"Terraform firewall for {who}: permit {rule_text}, with firewall logging on.", ""),
            (f"Which ingress should the {tier} hosts accept? Exactly this: {rule_text}. Please express it as "
             f"google_compute_firewall resources scoped to {who}, priorities from 1000 upward.", ""),
            (f"Security review asked us to replace the broad allow rules on the {tier} tier. New policy: "
             f"{rule_text}. Scope every rule to {who}.", ""),
        ], i, " Finish with a logged deny-all ingress rule." if deny_all else "")
        admin = [name.split("-")[0].upper() for name, _, kind, _ in rules if kind == "iap"]
        prose = [
            f"Each rule names its sources explicitly: {' and '.join(admin)} "
            f"{'comes' if len(admin) == 1 else 'come'} only from Google's IAP forwarding range, so no admin "
            "port is exposed to the internet." if admin else
            "Each rule lists explicit source ranges, so no port is exposed to the whole internet.",
            "Rules target service accounts, which cannot be changed by someone who can only edit instance tags."
            if by_sa else "Rules apply only to instances carrying the tier's network tag.",
            "Firewall logging with metadata is on for every rule so matches show up in Cloud Logging.",
        ]
        if "corp" in kinds:
            prose.append("A validation on `corporate_cidrs` rejects 0.0.0.0/0 at plan time.")
        elif deny_all:
            prose.append("The final deny-all rule sits at priority 65000, below every allow rule.")
        drafts.append(draft(instruction, prose, code))
    return drafts


# (instance name, database, engine)
SQL_INSTANCES = [
    ("orders-pg", "orders", "POSTGRES_17"),
    ("catalog-pg", "catalog", "POSTGRES_17"),
    ("billing-db", "billing", "POSTGRES_17"),
    ("crm-mysql", "crm", "MYSQL_8_4"),
    ("wiki-mysql", "wiki", "MYSQL_8_0"),
    ("ledger-pg", "ledger", "POSTGRES_17"),
    ("events-mysql", "events", "MYSQL_8_4"),
    ("geo-pg", "geodata", "POSTGRES_17"),
    ("cms-mysql", "cms", "MYSQL_8_0"),
]
TIERS_SQL = ["db-custom-1-3840", "db-custom-2-7680", "db-custom-4-15360", "db-custom-8-32768"]
PG_FLAGS = {"cloudsql.iam_authentication": "on", "cloudsql.enable_pgaudit": "on", "log_checkpoints": "on",
            "log_connections": "on", "log_disconnections": "on", "log_hostname": "on", "log_lock_waits": "on",
            "log_min_error_statement": "error", "log_statement": "ddl"}
MYSQL_FLAGS = {"cloudsql_iam_authentication": "on", "local_infile": "off", "skip_show_database": "on"}


def cloudsql_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (name, db, engine) in zip(template_order(rng, count, 6), rng.sample(SQL_INSTANCES, count), strict=True):
        region = rng.choice(REGIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        tier = rng.choice(TIERS_SQL)
        disk = rng.choice([20, 50, 100, 250])
        backups = rng.choice([7, 14, 30])
        log_days = rng.choice([3, 7])
        start = rng.choice(["01:00", "02:30", "03:00", "23:00"])
        ha = env == "prod" or rng.random() < 0.3
        cmek = rng.random() < 0.5
        postgres = engine.startswith("POSTGRES")
        flags = PG_FLAGS if postgres else MYSQL_FLAGS
        top = [("name", f'"{name}"'), ("database_version", f'"{engine}"'), ("region", f'"{region}"'),
               ("deletion_protection", "true")]
        if cmek:
            top.append(("encryption_key_name", "var.kms_key_id"))
        recovery = ("point_in_time_recovery_enabled", "true") if postgres else ("binary_log_enabled", "true")
        # PostgreSQL wants the email without ".gserviceaccount.com"; MySQL takes the full email.
        sa_user = ('trimsuffix(var.app_service_account, ".gserviceaccount.com")' if postgres
                   else "var.app_service_account")
        code = (
            header(region) + "\n"
            + variable("private_network", "Self link of a VPC that already has private services access.") + "\n"
            + variable("app_service_account", "Service account that connects with IAM database authentication.")
            + ("\n" + variable("kms_key_id", "Cloud KMS key for the instance (Cloud SQL agent needs access).")
               if cmek else "")
            + "\n"
            + 'resource "google_sql_database_instance" "this" {\n' + attrs(top) + "\n  settings {\n"
            + attrs([("tier", f'"{tier}"'), ("edition", '"ENTERPRISE"'),
                     ("availability_type", '"REGIONAL"' if ha else '"ZONAL"'),
                     ("disk_size", str(disk)), ("disk_autoresize", "true")], 4)
            + hcl_map("user_labels", {"team": team, "env": env}, 4)
            + "\n    ip_configuration {\n"
            "      ipv4_enabled                                  = false\n"
            "      private_network                               = var.private_network\n"
            '      ssl_mode                                      = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"\n'
            "      enable_private_path_for_google_cloud_services = true\n    }\n\n"
            "    backup_configuration {\n"
            + attrs([("enabled", "true"), ("start_time", f'"{start}"'), recovery,
                     ("transaction_log_retention_days", str(log_days))], 6)
            + f"\n      backup_retention_settings {{\n        retained_backups = {backups}\n      }}\n    }}\n\n"
            '    maintenance_window {\n      day          = 7\n      hour         = 4\n'
            '      update_track = "stable"\n    }\n\n'
            # Explicit blocks rather than a dynamic one, so scanners and reviewers see every flag.
            + "".join(f'    database_flags {{\n      name  = "{k}"\n      value = "{v}"\n    }}\n'
                        for k, v in flags.items())
            + "  }\n}\n\n"
            f'resource "google_sql_database" "{db}" {{\n  name     = "{db}"\n'
            "  instance = google_sql_database_instance.this.name\n}\n\n"
            "# The app signs in with its IAM identity: no database password exists anywhere.\n"
            'resource "google_sql_user" "app" {\n'
            f"  name     = {sa_user}\n"
            "  instance = google_sql_database_instance.this.name\n"
            '  type     = "CLOUD_IAM_SERVICE_ACCOUNT"\n}\n\n'
            'resource "google_project_iam_member" "app_sql" {\n'
            '  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])\n\n'
            "  project = var.project_id\n  role    = each.key\n"
            '  member  = "serviceAccount:${var.app_service_account}"\n}\n'
        )
        kind = "PostgreSQL 17" if postgres else f"MySQL {engine[6:].replace('_', '.')}"
        avail = "highly available (regional)" if ha else "zonal"
        public_instance = (f'resource "google_sql_database_instance" "this" {{\n  name             = "{name}"\n'
                           f'  database_version = "{engine}"\n  region           = "{region}"\n\n'
                           f'  settings {{\n    tier = "{tier}"\n\n    ip_configuration {{\n'
                           '      ipv4_enabled = true\n\n      authorized_networks {\n'
                           '        name  = "anywhere"\n        value = "0.0.0.0/0"\n      }\n    }\n  }\n}\n')
        instruction, input_text = seen.pick([
            (f"Provision a {avail} Cloud SQL {kind} instance `{name}` in {region} with a `{db}` "
             f"database. Private IP only, TLS required, daily backups at {start} UTC kept for "
             f"{backups} days, and {disk} GB SSD that can grow.", ""),
            (f"Terraform: {kind} on Cloud SQL for the {team} team ({env}), tier {tier}. No public "
             f"IP, encrypted connections only, {backups} retained backups plus point-in-time "
             "recovery, and IAM auth instead of passwords.", ""),
            (f"I need the `{db}` database on a private Cloud SQL {kind} server named {name}. "
             "It must not be reachable from the internet, must not hold a static password, and "
             f"should keep {log_days} days of transaction logs for recovery.", ""),
            (f"Make this Cloud SQL instance production-ready: remove the public IP, require SSL, "
             f"turn on backups ({backups} kept) with point-in-time recovery, protect it from "
             f"deletion, and let {db}'s service account log in with IAM.", public_instance),
            (f"Spin up {name} ({kind}, {tier}, {disk} GB) in {region} for the {db} service. Backups "
             f"every night at {start}, {backups} copies, deletion protection, only private "
             "networking, and audit logging through database flags.", ""),
            (f"Our {db} app runs in {region} and needs a managed {kind} database it reaches over "
             f"the VPC. Use the {env} settings: {'regional HA' if ha else 'single zone'}, "
             f"{backups}-day backup history, SSL enforced, no passwords (IAM login for the app).", ""),
        ], i, " Encrypt it with our KMS key." if cmek else "")
        prose = [
            "The instance has no public IPv4 address and is reached only over the VPC's private services "
            "access range; it accepts only TLS connections with a client certificate from its own CA, which "
            "the Cloud SQL Auth Proxy and language connectors provide automatically.",
            f"Automated backups run at {start} UTC and {backups} are retained; "
            + ("point-in-time recovery" if postgres else "binary logging for point-in-time recovery")
            + f" keeps {log_days} days of transaction logs, and deletion protection blocks an accidental destroy.",
            "The app authenticates with IAM database authentication, so there is no password to store or rotate.",
        ]
        if postgres:
            prose[-1] = prose[-1][:-1] + ", and the flags turn on pgAudit plus connection and DDL logging."
        elif cmek:
            prose.append("Data at rest uses your KMS key; the Cloud SQL service agent must be granted access first.")
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = vpc_family(rng, seen) + firewall_family(rng, seen) + cloudsql_family(rng, seen)
    return finish(drafts, rng)
