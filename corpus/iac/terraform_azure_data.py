"""Terraform examples for Azure data services: private PostgreSQL flexible servers and container registries."""

import random

from corpus.iac.terraform_azure import (
    ENVS,
    LOCATIONS,
    ORGS,
    RG_LINES,
    TEAMS,
    Distinct,
    attrs,
    draft,
    finish,
    hcl_map,
    header,
    make_tags,
    resource_group,
    template_order,
    variable,
)

# (server slug, database)
PG_SERVERS = [("orders", "orders"), ("catalog", "catalog"), ("billing", "invoices"), ("crm", "crm"),
              ("ledger", "ledger"), ("auth", "identity"), ("events", "events"), ("geo", "geodata"),
              ("cms", "content")]
PG_SKUS = [("B_Standard_B2s", "burstable"), ("GP_Standard_D2ds_v5", "general purpose"),
           ("GP_Standard_D4ds_v5", "general purpose"), ("MO_Standard_E4ds_v5", "memory optimized")]
PG_SETTINGS = {"log_connections": "on", "log_disconnections": "on", "log_checkpoints": "on",
               "connection_throttle.enable": "on", "require_secure_transport": "on"}


def postgres_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (slug, db) in zip(template_order(rng, count, 6), rng.sample(PG_SERVERS, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        sku, tier = rng.choice(PG_SKUS[1:] if env == "prod" else PG_SKUS)
        version = rng.choice(["15", "16"])
        storage_gb = rng.choice([32, 64, 128, 256])
        retention = rng.choice([7, 14, 35]) if env != "prod" else 35
        ha = env == "prod" and not sku.startswith("B_")
        name = f"psql-{slug}-{env}-{short}"
        server = [("name", f'"{name}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                  ("location", "azurerm_resource_group.this.location"), ("version", f'"{version}"'),
                  ("sku_name", f'"{sku}"'), ("storage_mb", str(storage_gb * 1024)), ("auto_grow_enabled", "true"),
                  ("backup_retention_days", str(retention)), ("geo_redundant_backup_enabled", "true"),
                  ("delegated_subnet_id", "var.delegated_subnet_id"), ("private_dns_zone_id", "var.dns_zone_id"),
                  ("public_network_access_enabled", "false"), ("zone", '"1"'), ("tags", "local.tags")]
        ha_block = ('\n  high_availability {\n    mode                      = "ZoneRedundant"\n'
                    '    standby_availability_zone = "2"\n  }\n') if ha else ""
        code = (
            header() + "\n"
            + variable("delegated_subnet_id", "Subnet delegated to PostgreSQL flexible servers.") + "\n"
            + variable("dns_zone_id", "privatelink.postgres.database.azure.com zone ID.") + "\n"
            + variable("admin_group_object_id", "Entra ID group that administers the server.") + "\n"
            + variable("admin_group_name", "Display name of that group.") + "\n"
            + 'data "azurerm_client_config" "current" {}\n\n'
            + resource_group(f"rg-{slug}-db-{env}", location, make_tags(rng, team, env),
                             hcl_map("server_settings", PG_SETTINGS)) + "\n"
            + 'resource "azurerm_postgresql_flexible_server" "this" {\n' + attrs(server)
            + "\n  authentication {\n    active_directory_auth_enabled = true\n"
            "    password_auth_enabled         = false\n"
            "    tenant_id                     = data.azurerm_client_config.current.tenant_id\n  }\n"
            + ha_block
            + "\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n\n"
            'resource "azurerm_postgresql_flexible_server_active_directory_administrator" "this" {\n'
            "  server_name         = azurerm_postgresql_flexible_server.this.name\n"
            "  resource_group_name = azurerm_resource_group.this.name\n"
            "  tenant_id           = data.azurerm_client_config.current.tenant_id\n"
            "  object_id           = var.admin_group_object_id\n"
            "  principal_name      = var.admin_group_name\n"
            '  principal_type      = "Group"\n}\n\n'
            'resource "azurerm_postgresql_flexible_server_configuration" "this" {\n'
            "  for_each = local.server_settings\n\n"
            "  name      = each.key\n  server_id = azurerm_postgresql_flexible_server.this.id\n"
            "  value     = each.value\n}\n\n"
            f'resource "azurerm_postgresql_flexible_server_database" "{db}" {{\n  name      = "{db}"\n'
            "  server_id = azurerm_postgresql_flexible_server.this.id\n"
            '  charset   = "UTF8"\n  collation = "en_US.utf8"\n}\n'
        )
        ha_text = " zone-redundant HA," if ha else ""
        old_server = (f'resource "azurerm_postgresql_flexible_server" "this" {{\n  name                   = "{name}"\n'
                      f'  resource_group_name    = "rg-{slug}-db-{env}"\n  location               = "{location}"\n'
                      f'  version                = "{version}"\n  sku_name               = "{sku}"\n'
                      '  administrator_login    = "pgadmin"\n  administrator_password = "ChangeMe123!"\n}\n')
        instruction, input_text = seen.pick([
            (f"Create an Azure Database for PostgreSQL flexible server {name} (v{version}, {sku}) with a "
             f"`{db}` database. It must be private (VNet-integrated, no public access), use Entra ID "
             f"authentication only, and keep backups for {retention} days with geo-redundancy.", ""),
            (f"Terraform for the {team} team's {tier} PostgreSQL {version} in {location}:{ha_text} "
             f"{storage_gb} GB storage that grows automatically, no passwords, and connection logging.", ""),
            (f"This server has a hard-coded admin password and is reachable publicly. Rewrite it: private "
             f"access through our delegated subnet, Entra ID admins only, {retention}-day geo-redundant "
             "backups, TLS enforced.", old_server),
            (f"We're moving the {db} database to Azure. Give me a PostgreSQL flexible server ({env}) that "
             f"only our VNet can reach, where an Entra group administers it and nobody knows a password; "
             f"{storage_gb} GB, {tier} tier.", ""),
            (f"Spin up Postgres {version} for {slug} in {location} on {sku}. Constraints from security: no "
             f"public endpoint, no local passwords, TLS required, {retention} days of backups.", ""),
            (f"What does a locked-down {tier} PostgreSQL flexible server look like in Terraform? Use it for "
             f"the {db} database of the {team} team, {env} environment{',' + ha_text if ha else ''} private "
             "networking only.", ""),
        ], i)
        prose = [
            "The server is VNet-integrated through the delegated subnet with public access disabled, and "
            "name resolution goes through the private DNS zone.",
            "Password authentication is off: an Entra ID group is the administrator, so there is no secret "
            "to hard-code and access is revoked by removing someone from the group.",
            f"Backups are kept {retention} days and copied to the paired region"
            + (", zone-redundant HA keeps a standby in zone 2," if ha else ",")
            + " and server parameters log connections, throttle brute-force logins and require TLS.",
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (registry purpose, what it holds)
REGISTRIES = [("apps", "application images"), ("base", "golden base images"), ("ml", "model-serving images"),
              ("edge", "edge gateway images"), ("tools", "CI tool images"), ("charts", "Helm charts and images"),
              ("batch", "batch job images"), ("web", "frontend images")]


def acr_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (use, what) in zip(template_order(rng, count, 4), rng.sample(REGISTRIES, count), strict=True):
        (location, short), (replica, _) = rng.sample(LOCATIONS, 2)
        team, env, org = rng.choice(TEAMS), rng.choice(ENVS), rng.choice(ORGS)
        untagged_days = rng.choice([7, 14, 30])
        geo = rng.random() < 0.7
        name = f"cr{org}{use}{env}"
        registry = [("name", f'"{name}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                    ("location", "azurerm_resource_group.this.location"), ("sku", '"Premium"'),
                    ("admin_enabled", "false"), ("anonymous_pull_enabled", "false"),
                    ("public_network_access_enabled", "false"), ("network_rule_bypass_option", '"AzureServices"'),
                    ("data_endpoint_enabled", "true"), ("zone_redundancy_enabled", "true"),
                    ("export_policy_enabled", "false"), ("retention_policy_in_days", str(untagged_days)),
                    ("tags", "local.tags")]
        geo_block = (f'\n  georeplications {{\n    location                = "{replica}"\n'
                     "    zone_redundancy_enabled = true\n  }\n") if geo else ""
        code = (
            header() + "\n"
            + variable("ci_principal_id", "Object ID of the CI identity that pushes images.") + "\n"
            + variable("runtime_principal_id", "Object ID of the identity that pulls images.") + "\n"
            + variable("pe_subnet_id", "Subnet for the registry's private endpoint.") + "\n"
            + variable("acr_dns_zone_id", "privatelink.azurecr.io zone ID.") + "\n"
            + resource_group(f"rg-registry-{env}-{short}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_container_registry" "this" {\n' + attrs(registry) + geo_block + "}\n\n"
            + "".join(
                f'resource "azurerm_role_assignment" "{key}" {{\n'
                "  scope                = azurerm_container_registry.this.id\n"
                f'  role_definition_name = "{role}"\n  principal_id         = var.{var}\n}}\n\n'
                for key, role, var in (("ci_push", "AcrPush", "ci_principal_id"),
                                       ("runtime_pull", "AcrPull", "runtime_principal_id")))
            + 'resource "azurerm_private_endpoint" "registry" {\n'
            f'  name                = "pe-{name}"\n' + RG_LINES
            + "  subnet_id           = var.pe_subnet_id\n  tags                = local.tags\n\n"
            '  private_service_connection {\n    name                           = "registry"\n'
            "    private_connection_resource_id = azurerm_container_registry.this.id\n"
            '    subresource_names              = ["registry"]\n    is_manual_connection           = false\n  }\n\n'
            '  private_dns_zone_group {\n    name                 = "registry"\n'
            "    private_dns_zone_ids = [var.acr_dns_zone_id]\n  }\n}\n"
        )
        geo_text = f" Replicate it to {replica}." if geo else ""
        basic = (f'resource "azurerm_container_registry" "this" {{\n  name                = "{name}"\n'
                 f'  resource_group_name = "rg-registry-{env}-{short}"\n  location            = "{location}"\n'
                 '  sku                 = "Standard"\n  admin_enabled       = true\n}\n')
        instruction, input_text = seen.pick([
            (f"Create an Azure Container Registry `{name}` in {location} for {what}. Disable the admin user "
             f"and anonymous pull, allow access only through a private endpoint, purge untagged manifests "
             f"after {untagged_days} days, and give CI AcrPush and the runtime AcrPull.", ""),
            (f"Terraform a Premium ACR for the {team} team ({env}) holding {what}: zone redundant, no public "
             f"network, dedicated data endpoints, untagged retention {untagged_days} days, RBAC for push/pull "
             "instead of admin credentials.", ""),
            (f"Our pipelines log in to {name} ({what}) with the admin password. Replace that with Entra "
             "ID roles (AcrPush for CI, AcrPull for workloads), make the registry private, and purge "
             f"untagged manifests after {untagged_days} days.", basic),
            (f"We need a private registry for {what} in {location}. Nobody should pull anonymously or use "
             f"shared admin credentials, and untagged manifests older than {untagged_days} days should "
             "be cleaned up.", ""),
        ], i, geo_text)
        prose = [
            "The admin account and anonymous pull are disabled, so every push and pull is an Entra ID "
            "identity with an AcrPush or AcrPull role on this registry.",
            "Public network access is off; clients use the private endpoint, data endpoints are dedicated, "
            "and export is disabled so images cannot be copied out.",
            f"Untagged manifests are purged after {untagged_days} days and the registry is zone redundant"
            + (f", with a geo-replica in {replica} for regional resilience." if geo else "."),
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = postgres_family(rng, seen) + acr_family(rng, seen)
    return finish(drafts, rng)
