"""Terraform examples for Azure application hosting and identity: App Service (Linux) and user-assigned
managed identities with scoped role assignments and federated credentials."""

import random

from corpus.iac.terraform_azure import (
    ENVS,
    LOCATIONS,
    RG_LINES,
    TEAMS,
    Distinct,
    attrs,
    draft,
    finish,
    header,
    make_tags,
    resource_group,
    template_order,
    upper_first,
    variable,
)

# (app slug, what it serves)
WEB_APPS = [("shop", "the storefront"), ("portal", "the partner portal"), ("api", "the orders API"),
            ("admin", "the back-office admin UI"), ("docs", "internal documentation"), ("hooks", "a webhook receiver"),
            ("quotes", "the insurance quote service"), ("booking", "the booking engine"), ("status", "a status page")]
# (stack block lines, words)
STACKS = [('node_version = "20-lts"', "Node.js 20"), ('python_version = "3.12"', "Python 3.12"),
          ('dotnet_version = "8.0"', ".NET 8"), ('java_server         = "JAVA"\n      java_server_version = "21"\n'
                                                '      java_version        = "21"', "Java 21")]
PLANS = [("P0v3", 2), ("P1v3", 2), ("P1v3", 3), ("P2v3", 3), ("P1mv3", 2)]


def web_app_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (slug, what) in zip(template_order(rng, count, 5), rng.sample(WEB_APPS, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        stack, stack_words = rng.choice(STACKS)
        plan_sku, workers = rng.choice(PLANS)
        health = rng.choice(["/healthz", "/health", "/api/health", "/ready"])
        log_days = rng.choice([3, 7, 14])
        internal = rng.random() < 0.5
        name = f"app-{slug}-{env}-{short}"
        variables = [variable("integration_subnet_id", "Subnet delegated to Microsoft.Web/serverFarms.")]
        if internal:
            variables += [variable("pe_subnet_id", "Subnet for the app's private endpoint."),
                          variable("sites_dns_zone_id", "privatelink.azurewebsites.net zone ID.")]
            access = ""
            tail = (
                '\nresource "azurerm_private_endpoint" "app" {\n'
                f'  name                = "pe-{name}"\n' + RG_LINES
                + "  subnet_id           = var.pe_subnet_id\n\n"
                '  private_service_connection {\n    name                           = "sites"\n'
                "    private_connection_resource_id = azurerm_linux_web_app.this.id\n"
                '    subresource_names              = ["sites"]\n    is_manual_connection           = false\n  }\n\n'
                '  private_dns_zone_group {\n    name                 = "sites"\n'
                "    private_dns_zone_ids = [var.sites_dns_zone_id]\n  }\n}\n"
            )
        else:
            variables.append(variable("front_door_id", "Front Door profile resource GUID (X-Azure-FDID)."))
            # Only our Front Door profile may reach the origin; the header check stops other profiles.
            access = ('\n    ip_restriction_default_action = "Deny"\n\n    ip_restriction {\n'
                      '      name        = "front-door-only"\n      priority    = 100\n'
                      '      action      = "Allow"\n      service_tag = "AzureFrontDoor.Backend"\n\n'
                      "      headers {\n        x_azure_fdid = [var.front_door_id]\n      }\n    }\n")
            tail = ""
        app_attrs = [("name", f'"{name}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                     ("location", "azurerm_resource_group.this.location"),
                     ("service_plan_id", "azurerm_service_plan.this.id"), ("https_only", "true"),
                     ("public_network_access_enabled", str(not internal).lower()),
                     ("ftp_publish_basic_authentication_enabled", "false"),
                     ("webdeploy_publish_basic_authentication_enabled", "false"),
                     ("virtual_network_subnet_id", "var.integration_subnet_id"), ("tags", "local.tags")]
        code = (
            header() + "\n" + "\n".join(variables) + "\n"
            + resource_group(f"rg-{slug}-{env}-{short}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_service_plan" "this" {\n'
            + attrs([("name", f'"asp-{slug}-{env}-{short}"'),
                     ("resource_group_name", "azurerm_resource_group.this.name"),
                     ("location", "azurerm_resource_group.this.location"), ("os_type", '"Linux"'),
                     ("sku_name", f'"{plan_sku}"'), ("worker_count", str(workers)),
                     ("zone_balancing_enabled", "true"), ("tags", "local.tags")])
            + "}\n\n"
            'resource "azurerm_linux_web_app" "this" {\n' + attrs(app_attrs)
            + '\n  identity {\n    type = "SystemAssigned"\n  }\n\n  site_config {\n'
            + attrs([("minimum_tls_version", '"1.2"'), ("ftps_state", '"Disabled"'), ("http2_enabled", "true"),
                     ("always_on", "true"), ("health_check_path", f'"{health}"'),
                     ("health_check_eviction_time_in_min", "5"), ("vnet_route_all_enabled", "true")], 4)
            + access
            + f"\n    application_stack {{\n      {stack}\n    }}\n  }}\n\n"
            "  logs {\n    detailed_error_messages = true\n    failed_request_tracing  = true\n\n"
            "    http_logs {\n      file_system {\n"
            f"        retention_in_days = {log_days}\n        retention_in_mb   = 35\n      }}\n    }}\n  }}\n}}\n"
            + tail
        )
        reach = ("reachable only through a private endpoint" if internal
                 else "reachable only through our Azure Front Door profile")
        instruction, input_text = seen.pick([
            (f"Deploy {what} as an Azure Linux web app ({stack_words}) on a {plan_sku} plan with {workers} "
             f"instance(s). HTTPS only, TLS 1.2 minimum, FTP disabled, health checks on {health}, and "
             f"{reach}.", ""),
            (f"Terraform an App Service for the {team} team: `{name}` in {location}, {stack_words}, managed "
             f"identity, VNet integration with all outbound traffic routed through the VNet, {reach}.", ""),
            (f"We host {what} on App Service. Write the plan and Linux web app so that basic-auth publishing "
             f"is off, HTTP/2 and always-on are enabled, logs are kept {log_days} days, and the site is "
             f"{reach}.", ""),
            (f"{upper_first(what)} ({env}) needs a zone-resilient App Service setup: {plan_sku} x{workers}, "
             f"{stack_words} runtime, TLS 1.2+, HTTPS redirect, {reach}.", ""),
            (f"Harden this web app for {what}: force HTTPS and TLS 1.2, turn off FTP and basic-auth publishing, "
             f"add a managed identity and health checks on {health}, and make it {reach}.",
             f'resource "azurerm_linux_web_app" "this" {{\n  name                = "{name}"\n'
             f'  resource_group_name = "rg-{slug}-{env}-{short}"\n  location            = "{location}"\n'
             "  service_plan_id     = azurerm_service_plan.this.id\n\n  site_config {\n"
             '    ftps_state = "AllAllowed"\n  }\n}\n'),
        ], i)
        prose = [
            "`https_only` redirects plain HTTP, the minimum TLS version is 1.2, and FTP/FTPS plus basic-auth "
            "publishing are disabled so deployments must use Entra ID.",
            ("Public network access is off; clients reach the app through its private endpoint, and VNet "
             "integration routes all outbound traffic through your network." if internal else
             "Access restrictions default to Deny and only admit the AzureFrontDoor.Backend service tag with "
             "your profile's X-Azure-FDID header, so the origin cannot be hit directly."),
            f"The health check on {health} lets the platform replace unhealthy instances, and the "
            "system-assigned identity is ready for Key Vault references instead of stored secrets.",
        ]
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


# (identity slug, workload, [(scope variable, role)], federation kind)
IDENTITIES = [
    ("orders-worker", "the orders worker on AKS",
     [("orders_queue_id", "Azure Service Bus Data Receiver"), ("orders_vault_id", "Key Vault Secrets User")], "aks"),
    ("deploy-pipeline", "the GitHub Actions deployment pipeline",
     [("app_resource_group_id", "Website Contributor"), ("registry_id", "AcrPush")], "github"),
    ("report-job", "the nightly reporting job",
     [("reports_container_id", "Storage Blob Data Contributor"), ("warehouse_storage_id", "Storage Blob Data Reader")],
     ""),
    ("ingest-fn", "the ingestion function",
     [("events_hub_id", "Azure Event Hubs Data Receiver"), ("landing_container_id", "Storage Blob Data Contributor")],
     ""),
    ("infra-plan", "Terraform plan runs in GitHub Actions", [("subscription_scope", "Reader")], "github"),
    ("metrics-agent", "the metrics collector on AKS", [("monitor_workspace_id", "Monitoring Metrics Publisher")],
     "aks"),
    ("mailer", "the notification mailer",
     [("mail_queue_id", "Storage Queue Data Message Processor"), ("mail_vault_id", "Key Vault Secrets User")], ""),
    ("image-puller", "the edge nodes pulling images", [("registry_id", "AcrPull")], ""),
]
REPOS = ["contoso/orders", "fabrikam/platform-infra", "northwind/web", "tailspin/deploy", "adatum/services"]


def identity_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (slug, workload, grants, federation) in zip(template_order(rng, count, 3),
                                                       rng.sample(IDENTITIES, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        namespace = slug.split("-")[0]
        repo = rng.choice(REPOS)
        variables = [variable(var, f"Resource ID that the {role} role is scoped to.") for var, role in grants]
        blocks = [
            f'resource "azurerm_role_assignment" "{var.removesuffix("_id")}" {{\n'
            + attrs([("scope", f"var.{var}"), ("role_definition_name", f'"{role}"'),
                     ("principal_id", "azurerm_user_assigned_identity.this.principal_id"),
                     ("principal_type", '"ServicePrincipal"')])
            + "}\n"
            for var, role in grants]
        fed_text = ""
        if federation == "aks":
            variables.append(variable("aks_oidc_issuer_url", "OIDC issuer URL of the AKS cluster."))
            blocks.append(
                f"# Pods using the {namespace}/{slug} service account exchange their token for this identity.\n"
                'resource "azurerm_federated_identity_credential" "aks" {\n'
                f'  name      = "aks-{namespace}-{slug}"\n  parent_id = azurerm_user_assigned_identity.this.id\n'
                '  audience  = ["api://AzureADTokenExchange"]\n  issuer    = var.aks_oidc_issuer_url\n'
                f'  subject   = "system:serviceaccount:{namespace}:{slug}"\n}}\n')
            fed_text = f" Pods in namespace {namespace} (service account {slug}) must be able to use it."
        elif federation == "github":
            branch_env = rng.choice(["environment:production", "ref:refs/heads/main", "environment:prod"])
            blocks.append(
                f"# Only workflows from {repo} with {branch_env} can obtain a token; no client secret exists.\n"
                'resource "azurerm_federated_identity_credential" "github" {\n'
                f'  name      = "github-{repo.split("/")[1]}"\n  parent_id = azurerm_user_assigned_identity.this.id\n'
                '  audience  = ["api://AzureADTokenExchange"]\n'
                '  issuer    = "https://token.actions.githubusercontent.com"\n'
                f'  subject   = "repo:{repo}:{branch_env}"\n}}\n')
            fed_text = f" GitHub Actions in {repo} ({branch_env}) should log in with it via OIDC."
        code = (
            header() + "\n" + "\n".join(variables) + "\n"
            + resource_group(f"rg-identity-{env}-{short}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_user_assigned_identity" "this" {\n'
            f'  name                = "id-{slug}-{env}"\n' + RG_LINES + "  tags                = local.tags\n}\n\n"
            + "\n".join(blocks)
            + '\noutput "client_id" {\n  value = azurerm_user_assigned_identity.this.client_id\n}\n'
        )
        grant_text = " and ".join(f"{role} on {var.removesuffix('_id').replace('_', ' ')}" for var, role in grants)
        instruction, _ = seen.pick([
            (f"Create a user-assigned managed identity for {workload} and grant it {grant_text}, each scoped "
             "to that single resource.", ""),
            (f"Terraform: identity `id-{slug}-{env}` in {location} for the {team} team. Role assignments: "
             f"{grant_text}. No subscription-wide roles, no client secrets.", ""),
            (f"{upper_first(workload)} should stop using a service principal secret. Give it a managed "
             f"identity with only {grant_text}.", ""),
        ], i, fed_text)
        prose = [
            "Each role assignment uses the narrowest built-in role and is scoped to the one resource it is "
            "needed for, never Owner or Contributor at subscription level.",
            "`principal_type = \"ServicePrincipal\"` avoids failures while a new identity is still replicating "
            "in Entra ID.",
        ]
        if federation == "aks":
            prose.append("Workload identity federation lets the pod exchange its Kubernetes token for an Entra "
                         "token, so no secret is mounted anywhere.")
        elif federation == "github":
            prose.append("The GitHub OIDC federation is pinned to one repository and environment, so other "
                         "repos and branches cannot assume the identity.")
        drafts.append(draft(instruction, prose, code))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = web_app_family(rng, seen) + identity_family(rng, seen)
    return finish(drafts, rng)
