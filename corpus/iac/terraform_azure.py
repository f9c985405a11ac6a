"""Terraform examples for Azure: storage accounts, Key Vault and Log Analytics.

Also holds the Azure-specific helpers (provider header, naming, tags) that the terraform_azure_* modules
share; the generic HCL and row helpers come from terraform_gcp so both clouds format code the same way."""

import random

from corpus.iac.terraform_gcp import Distinct, attrs, draft, hcl_map, template_order, upper_first, variable
from corpus.iac.terraform_gcp import finish as _finish

PROVIDER = "azure"
# (region, short code used in resource names)
LOCATIONS = [("westeurope", "weu"), ("northeurope", "neu"), ("eastus2", "eus2"), ("centralus", "cus"),
             ("uksouth", "uks"), ("swedencentral", "sdc"), ("germanywestcentral", "gwc"), ("australiaeast", "aue"),
             ("japaneast", "jpe"), ("canadacentral", "cac"), ("francecentral", "frc")]
TEAMS = ["payments", "platform", "data", "identity", "search", "growth", "billing", "logistics", "risk", "media"]
ENVS = ["dev", "test", "prod"]
ORGS = ["contoso", "fabrikam", "northwind", "tailspin", "woodgrove", "litware", "adatum", "proseware"]

__all__ = ["ENVS", "LOCATIONS", "ORGS", "RG_LINES", "TEAMS", "Distinct", "attrs", "draft", "examples", "finish",
           "hcl_map", "header", "make_tags", "resource_group", "template_order", "upper_first", "variable"]


def header(*, with_random: bool = False) -> str:
    """terraform + provider blocks; azurerm 4.x needs the subscription ID, which comes from a variable."""
    random_req = ""
    if with_random:
        random_req = '    random = {\n      source  = "hashicorp/random"\n      version = "~> 3.6"\n    }\n'
    return (
        'terraform {\n  required_version = ">= 1.5"\n\n  required_providers {\n'
        '    azurerm = {\n      source  = "hashicorp/azurerm"\n      version = "~> 4.0"\n    }\n'
        f"{random_req}  }}\n}}\n\n"
        'provider "azurerm" {\n  subscription_id = var.subscription_id\n  features {}\n}\n\n'
        + variable("subscription_id", "Subscription that receives the resources.")
    )


def resource_group(name: str, location: str, tags: dict[str, str], extra_locals: str = "") -> str:
    """locals.tags plus the resource group; every other resource reuses both."""
    return (
        "locals {\n" + hcl_map("tags", tags) + extra_locals + "}\n\n"
        'resource "azurerm_resource_group" "this" {\n'
        f'  name     = "{name}"\n  location = "{location}"\n  tags     = local.tags\n}}\n'
    )


def make_tags(rng: random.Random, team: str, env: str) -> dict[str, str]:
    tags = {"environment": env, "team": team, "managed_by": "terraform"}
    if rng.random() < 0.5:
        tags["cost_center"] = f"CC-{rng.randint(1000, 9999)}"
    return tags


RG_LINES = ("  resource_group_name = azurerm_resource_group.this.name\n"
            "  location            = azurerm_resource_group.this.location\n")


def finish(drafts: list[dict], rng: random.Random) -> list[dict]:
    return _finish(drafts, rng, provider=PROVIDER)


# (purpose slug, what it stores)
STORAGE_USES = [
    ("invoices", "invoice PDFs"),
    ("telemetry", "device telemetry batches"),
    ("exports", "nightly CRM exports"),
    ("backups", "application backup archives"),
    ("media", "product images"),
    ("reports", "generated compliance reports"),
    ("ingest", "partner file drops"),
    ("mldata", "model training data"),
    ("auditlogs", "exported audit logs"),
]


def storage_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (use, what) in zip(template_order(rng, count, 5), rng.sample(STORAGE_USES, count),
                                          strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env, org = rng.choice(TEAMS), rng.choice(ENVS), rng.choice(ORGS)
        replication = rng.choice(["GZRS", "RAGZRS", "GRS", "RAGRS"])
        soft_days = rng.choice([7, 14, 30, 90])
        versioning = rng.random() < 0.7
        account = f"st{org[:6]}{use}{env}"[:24]
        rg = f"rg-{use}-{env}-{short}"
        code = (
            header() + "\n"
            + variable("cmk_key_id", "Versionless ID of the Key Vault key used for encryption.") + "\n"
            + variable("cmk_identity_id", "User-assigned identity holding Crypto Service Encryption User on it.")
            + "\n"
            + variable("pe_subnet_id", "Subnet for the private endpoint.") + "\n"
            + variable("blob_dns_zone_id", "privatelink.blob.core.windows.net zone ID.") + "\n"
            + resource_group(rg, location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_storage_account" "this" {\n'
            f'  name                              = "{account}"\n'
            "  resource_group_name               = azurerm_resource_group.this.name\n"
            "  location                          = azurerm_resource_group.this.location\n"
            '  account_tier                      = "Standard"\n'
            f'  account_replication_type          = "{replication}"\n'
            '  min_tls_version                   = "TLS1_2"\n'
            "  https_traffic_only_enabled        = true\n"
            "  allow_nested_items_to_be_public   = false\n"
            "  shared_access_key_enabled         = false\n"
            "  public_network_access_enabled     = false\n"
            "  infrastructure_encryption_enabled = true\n"
            "  local_user_enabled                = false\n"
            "  default_to_oauth_authentication   = true\n"
            "  tags                              = local.tags\n\n"
            '  identity {\n    type         = "UserAssigned"\n'
            "    identity_ids = [var.cmk_identity_id]\n  }\n\n"
            "  customer_managed_key {\n    key_vault_key_id          = var.cmk_key_id\n"
            "    user_assigned_identity_id = var.cmk_identity_id\n  }\n\n"
            f"  blob_properties {{\n    versioning_enabled = {str(versioning).lower()}\n"
            f"\n    delete_retention_policy {{\n      days = {soft_days}\n    }}\n\n"
            f"    container_delete_retention_policy {{\n      days = {soft_days}\n    }}\n  }}\n\n"
            '  network_rules {\n    default_action = "Deny"\n    bypass         = ["AzureServices"]\n  }\n\n'
            '  sas_policy {\n    expiration_period = "00.04:00:00"\n  }\n}\n\n'
            'resource "azurerm_private_endpoint" "blob" {\n'
            f'  name                = "pe-{account}-blob"\n' + RG_LINES
            + "  subnet_id           = var.pe_subnet_id\n  tags                = local.tags\n\n"
            '  private_service_connection {\n    name                           = "blob"\n'
            "    private_connection_resource_id = azurerm_storage_account.this.id\n"
            '    subresource_names              = ["blob"]\n    is_manual_connection           = false\n  }\n\n'
            '  private_dns_zone_group {\n    name                 = "blob"\n'
            "    private_dns_zone_ids = [var.blob_dns_zone_id]\n  }\n}\n"
        )
        versions = "blob versioning, " if versioning else ""
        account_input = (f'resource "azurerm_storage_account" "this" {{\n  name                     = "{account}"\n'
                         f'  resource_group_name      = "{rg}"\n  location                 = "{location}"\n'
                         '  account_tier             = "Standard"\n'
                         f'  account_replication_type = "{replication}"\n}}\n')
        instruction, input_text = seen.pick([
            (f"Create an Azure storage account `{account}` in {location} for {what}. Require TLS 1.2, "
             "forbid public blob access, enable infrastructure encryption plus a customer-managed key, and "
             f"keep deleted blobs for {soft_days} days.", ""),
            (f"Terraform (azurerm 4.x): {replication} storage for {what} owned by {team} ({env}). No shared "
             f"keys, no public network access (private endpoint only), {versions}soft delete "
             f"{soft_days} days, CMK from our Key Vault.", ""),
            (f"I need somewhere private in Azure to keep {what}. Resource group {rg}, one {replication} storage "
             "account reachable only through a private endpoint, Entra ID auth instead of account keys, and "
             "double encryption.", ""),
            (f"Bring this storage account up to our baseline: TLS 1.2 minimum, HTTPS only, no anonymous "
             f"blob access, no shared keys, infrastructure encryption, CMK, {soft_days}-day soft delete and a "
             "private endpoint.", account_input),
            (f"Our {team} team stores {what} in {location}. Write the storage account ({replication}) so "
             f"that nothing is public, SAS tokens expire within four hours, and blobs survive accidental "
             f"deletion for {soft_days} days.", ""),
        ], i)
        prose = [
            "Public access is closed at every layer: anonymous blob access is off, the public endpoint is "
            "disabled, and clients reach the account only through the blob private endpoint.",
            "Shared keys and local users are disabled so every request is authorised with Entra ID, and any "
            "SAS that is still issued is capped at four hours.",
            "Data is encrypted twice: infrastructure encryption underneath, and your Key Vault key (versionless, "
            "so rotations are picked up) at the service layer through a user-assigned identity.",
            f"{'Versioning and ' if versioning else ''}{soft_days}-day soft delete for blobs and containers "
            "protect against accidental or malicious deletes.",
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (vault purpose slug, what it protects, data-plane role the app needs for it)
VAULT_USES = [
    ("payments", "payment service credentials", "Key Vault Secrets User"),
    ("platform", "shared platform certificates", "Key Vault Certificate User"),
    ("crm", "CRM integration secrets", "Key Vault Secrets User"),
    ("identity", "token signing keys", "Key Vault Crypto User"),
    ("analytics", "warehouse connection strings", "Key Vault Secrets User"),
    ("ops", "break-glass credentials", "Key Vault Secrets User"),
    ("edge", "TLS certificates for the edge proxies", "Key Vault Certificate User"),
    ("billing", "billing API keys", "Key Vault Secrets User"),
    ("disks", "disk encryption keys", "Key Vault Crypto Service Encryption User"),
]


def key_vault_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (use, what, reader_role) in zip(template_order(rng, count, 4), rng.sample(VAULT_USES, count),
                                           strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        sku = rng.choice(["standard", "premium"])
        retention = rng.choice([30, 60, 90])
        admin_ips = rng.choice([["203.0.113.0/24"], ["198.51.100.10/32", "198.51.100.11/32"], ["192.0.2.0/26"]])
        vault = f"kv-{use}-{env}-{short}"
        ip_list = ", ".join(f'"{ip}"' for ip in admin_ips)
        code = (
            header() + "\n"
            + variable("app_principal_id", "Object ID of the app identity.") + "\n"
            + variable("pe_subnet_id", "Subnet for the private endpoint.") + "\n"
            + variable("vault_dns_zone_id", "privatelink.vaultcore.azure.net zone ID.") + "\n"
            + variable("workspace_id", "Log Analytics workspace for audit events.") + "\n"
            + 'data "azurerm_client_config" "current" {}\n\n'
            + resource_group(f"rg-{use}-secrets-{env}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_key_vault" "this" {\n'
            f'  name                          = "{vault}"\n'
            "  resource_group_name           = azurerm_resource_group.this.name\n"
            "  location                      = azurerm_resource_group.this.location\n"
            "  tenant_id                     = data.azurerm_client_config.current.tenant_id\n"
            f'  sku_name                      = "{sku}"\n'
            "  rbac_authorization_enabled    = true\n"
            "  purge_protection_enabled      = true\n"
            f"  soft_delete_retention_days    = {retention}\n"
            "  public_network_access_enabled = false\n"
            "  tags                          = local.tags\n\n"
            '  network_acls {\n    default_action = "Deny"\n    bypass         = "AzureServices"\n'
            f"    ip_rules       = [{ip_list}]\n  }}\n}}\n\n"
            'resource "azurerm_role_assignment" "app" {\n'
            "  scope                = azurerm_key_vault.this.id\n"
            f'  role_definition_name = "{reader_role}"\n'
            "  principal_id         = var.app_principal_id\n}\n\n"
            'resource "azurerm_private_endpoint" "vault" {\n'
            f'  name                = "pe-{vault}"\n' + RG_LINES
            + "  subnet_id           = var.pe_subnet_id\n  tags                = local.tags\n\n"
            '  private_service_connection {\n    name                           = "vault"\n'
            "    private_connection_resource_id = azurerm_key_vault.this.id\n"
            '    subresource_names              = ["vault"]\n    is_manual_connection           = false\n  }\n\n'
            '  private_dns_zone_group {\n    name                 = "vault"\n'
            "    private_dns_zone_ids = [var.vault_dns_zone_id]\n  }\n}\n\n"
            'resource "azurerm_monitor_diagnostic_setting" "vault" {\n'
            '  name                       = "audit-to-law"\n'
            "  target_resource_id         = azurerm_key_vault.this.id\n"
            "  log_analytics_workspace_id = var.workspace_id\n\n"
            '  enabled_log {\n    category = "AuditEvent"\n  }\n}\n'
        )
        ip_text = " and ".join(admin_ips)
        access_input = (f'resource "azurerm_key_vault" "this" {{\n  name                = "{vault}"\n'
                        f'  location            = "{location}"\n  resource_group_name = "rg-{use}-secrets-{env}"\n'
                        '  tenant_id           = data.azurerm_client_config.current.tenant_id\n'
                        f'  sku_name            = "{sku}"\n\n  access_policy {{\n'
                        "    tenant_id          = data.azurerm_client_config.current.tenant_id\n"
                        "    object_id          = var.app_principal_id\n"
                        '    secret_permissions = ["Get", "List", "Set", "Delete"]\n  }\n}\n')
        instruction, input_text = seen.pick([
            (f"Create an Azure Key Vault `{vault}` ({sku} SKU) for {what}. Use RBAC instead of access "
             f"policies, enable purge protection with {retention}-day soft delete, deny public network "
             f"access except {ip_text}, and give the app the {reader_role} role.", ""),
            (f"Terraform a Key Vault in {location} for the {team} team's {what}: private endpoint only, "
             f"network ACLs default Deny (admin IPs {ip_text}), purge protection, audit events to Log "
             "Analytics.", ""),
            (f"Migrate this vault for {what} from access policies to Azure RBAC, turn on purge protection, "
             f"close public access, and grant only {reader_role} to the app.", access_input),
            (f"We keep {what} in Azure. Give us a locked-down vault: {retention} days of soft delete that "
             f"cannot be purged early, no public endpoint, audit logging, and a single role assignment "
             f"({reader_role}) for the application.", ""),
        ], i)
        prose = [
            "Authorization uses Azure RBAC, so access is granted with role assignments that are auditable "
            f"and scoped: the app only gets {reader_role} on this vault.",
            f"Purge protection plus {retention}-day soft delete means a deleted vault or secret can be "
            "recovered and cannot be purged early, even by an administrator.",
            "Public network access is off and the ACL defaults to Deny, so clients use the private endpoint; "
            f"{ip_text} {'stays' if len(admin_ips) == 1 else 'stay'} in the ACL for admin work. AuditEvent logs "
            "go to Log Analytics.",
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (workspace slug, what it collects)
WORKSPACES = [
    ("platform", "platform-wide diagnostics"),
    ("security", "security and sign-in logs"),
    ("apps", "application traces"),
    ("network", "network flow and firewall logs"),
    ("data", "data platform diagnostics"),
    ("shared", "the shared services landing zone"),
    ("aks", "container insights"),
]


def log_analytics_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (slug, what) in zip(template_order(rng, count, 5), rng.sample(WORKSPACES, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        retention = rng.choice([30, 60, 90, 180, 365, 730])
        quota = rng.choice([-1, 5, 10, 50])
        activity = rng.random() < 0.6
        name = f"log-{slug}-{env}-{short}"
        ws_attrs = [("name", f'"{name}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                    ("location", "azurerm_resource_group.this.location"), ("sku", '"PerGB2018"'),
                    ("retention_in_days", str(retention)), ("daily_quota_gb", str(quota)),
                    ("internet_ingestion_enabled", "false"), ("internet_query_enabled", "false"),
                    ("local_authentication_enabled", "false"), ("tags", "local.tags")]
        code = (
            header() + "\n" + resource_group(f"rg-monitoring-{env}-{short}", location, make_tags(rng, team, env))
            + '\nresource "azurerm_log_analytics_workspace" "this" {\n' + attrs(ws_attrs) + "}\n"
        )
        if activity:
            code += (
                "\n# Subscription activity (who changed what) lands in the same workspace for correlation.\n"
                'resource "azurerm_monitor_diagnostic_setting" "activity" {\n'
                '  name                       = "activity-to-law"\n'
                '  target_resource_id         = "/subscriptions/${var.subscription_id}"\n'
                "  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id\n\n"
                + "".join(f'  enabled_log {{\n    category = "{c}"\n  }}\n'
                          for c in ("Administrative", "Security", "Policy"))
                + "}\n"
            )
        code += ('\noutput "workspace_id" {\n  value = azurerm_log_analytics_workspace.this.workspace_id\n}\n')
        quota_text = "no daily cap" if quota == -1 else f"a {quota} GB daily ingestion cap"
        act = rng.choice([" Send the subscription's Administrative, Security and Policy activity logs to it.",
                          " Also route subscription activity logs (administrative, security, policy) there."]
                         ) if activity else ""
        instruction, _ = seen.pick([
            (f"Create a Log Analytics workspace `{name}` in {location} for {what}, retaining data for "
             f"{retention} days with {quota_text}. Ingestion and queries must go through Private Link, "
             "not the public internet.", ""),
            (f"Terraform for the {team} team's Log Analytics ({env}): PerGB2018, {retention}-day retention, "
             f"{quota_text}, shared-key (local) authentication disabled.", ""),
            (f"We need a central place for {what}. Set up a workspace in {location} that keeps {retention} "
             "days of data, only accepts Entra ID authenticated clients, and is closed to public ingestion "
             "and querying.", ""),
            (f"Monitoring baseline for {env}: one PerGB2018 workspace named {name}, {quota_text}, "
             f"{retention} days of retention, no workspace keys, private access only.", ""),
            (f"How would you define the {slug} Log Analytics workspace in Terraform? Requirements from the "
             f"{team} team: {location}, keep {retention} days, {quota_text}, no public endpoints.", ""),
        ], i, act)
        prose = [
            f"Data is kept for {retention} days" + (", and there is no daily cap" if quota == -1 else
                                                    f", and a {quota} GB daily cap stops a noisy source "
                                                    "from running up the bill") + ".",
            "Public ingestion and query endpoints are disabled, so agents and users have to come through an "
            "Azure Monitor Private Link Scope.",
            "Local (shared key) authentication is off, which forces Entra ID and makes every caller "
            "attributable.",
        ]
        if activity:
            prose.append("Subscription activity logs flow into the same workspace to correlate changes with "
                         "incidents.")
        drafts.append(draft(instruction, prose, code))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = storage_family(rng, seen) + key_vault_family(rng, seen) + log_analytics_family(rng, seen)
    return finish(drafts, rng)
