"""Terraform examples for Azure networking and compute: VNets with NSGs, private DNS zones, Linux VMs."""

import ipaddress
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
    hcl_map,
    header,
    make_tags,
    resource_group,
    template_order,
    variable,
)

# (vnet slug, workload, subnet tiers in order)
VNETS = [
    ("core", "the core business apps", ["web", "app", "data"]),
    ("shop", "the web shop", ["web", "app"]),
    ("erp", "the ERP system", ["app", "data"]),
    ("portal", "the customer portal", ["web", "app", "data"]),
    ("api", "the public API", ["web", "app"]),
    ("analytics", "analytics workloads", ["app", "data"]),
    ("hr", "the HR platform", ["web", "data"]),
    ("iot", "IoT ingestion", ["web", "app", "data"]),
    ("pay", "payments processing", ["app", "data"]),
]
DB_PORTS = [("5432", "PostgreSQL"), ("1433", "SQL Server"), ("3306", "MySQL"), ("6380", "Redis TLS")]


def vnet_family(rng: random.Random, seen: Distinct, count: int = 8) -> list[dict]:
    drafts = []
    for i, (slug, workload, tiers) in zip(template_order(rng, count, 4), rng.sample(VNETS, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        base = ipaddress.ip_network(f"10.{rng.randint(10, 250)}.0.0/16")
        prefix = rng.choice([24, 23, 22])
        cidrs = dict(zip(tiers, (str(c) for c in base.subnets(new_prefix=prefix)), strict=False))
        admin_cidr = str(list(base.subnets(new_prefix=26))[-1])
        db_port, db_name = rng.choice(DB_PORTS)
        app_port = rng.choice(["8080", "8443", "5000"])
        web_source = rng.choice(["AzureFrontDoor.Backend", "Internet"])
        lateral_deny = rng.random() < 0.6
        vnet = f"vnet-{slug}-{env}-{short}"
        rules, words = [], []  # (key, nsg, priority, port, source)
        if "web" in tiers:
            rules.append(("web_https", "web", 100, "443", web_source))
            words.append(f"HTTPS to web from {web_source}")
        if "app" in tiers:
            rules.append(("app_in", "app", 110, app_port, cidrs.get("web", admin_cidr)))
            words.append(f"port {app_port} to app from " + ("the web subnet" if "web" in tiers else admin_cidr))
        if "data" in tiers:
            feeder = "app" if "app" in tiers else "web"
            rules.append(("data_in", "data", 120, db_port, cidrs[feeder]))
            words.append(f"{db_name} ({db_port}) to data from the {feeder} subnet")
        ssh_tier = "app" if "app" in tiers else tiers[-1]
        rules.append(("ssh_admin", ssh_tier, 200, "22", admin_cidr))
        words.append(f"SSH to {ssh_tier} only from the admin range {admin_cidr}")
        width = max(len(r[0]) for r in rules)
        rule_locals = ("  allow_rules = {\n"
                       + "".join(f'    {k.ljust(width)} = {{ nsg = "{n}", priority = {p}, port = "{port}", '
                                 f'source = "{src}" }}\n' for k, n, p, port, src in rules)
                       + "  }\n")
        deny_block = (
            "\n  security_rule {\n"
            + attrs([("name", '"deny-all-in"'), ("priority", "4096"), ("direction", '"Inbound"'),
                     ("access", '"Deny"'), ("protocol", '"*"'), ("source_port_range", '"*"'),
                     ("destination_port_range", '"*"'), ("source_address_prefix", '"*"'),
                     ("destination_address_prefix", '"*"')], 4)
            + "  }\n"
        ) if lateral_deny else ""
        code = (
            header() + "\n"
            + resource_group(f"rg-net-{slug}-{env}", location, {"environment": env, "team": team},
                             hcl_map("subnets", cidrs) + rule_locals) + "\n"
            + 'resource "azurerm_virtual_network" "this" {\n'
            f'  name                = "{vnet}"\n' + RG_LINES
            + f'  address_space       = ["{base}"]\n  tags                = local.tags\n}}\n\n'
            'resource "azurerm_subnet" "this" {\n  for_each = local.subnets\n\n'
            + attrs([("name", '"snet-${each.key}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                     ("virtual_network_name", "azurerm_virtual_network.this.name"),
                     ("address_prefixes", "[each.value]"), ("default_outbound_access_enabled", "false")])
            + "}\n\n"
            'resource "azurerm_network_security_group" "this" {\n  for_each = local.subnets\n\n'
            '  name                = "nsg-${each.key}"\n' + RG_LINES + "  tags                = local.tags\n\n"
            '  dynamic "security_rule" {\n'
            "    for_each = { for k, r in local.allow_rules : k => r if r.nsg == each.key }\n\n"
            "    content {\n"
            + attrs([("name", '"allow-${security_rule.key}"'), ("priority", "security_rule.value.priority"),
                     ("direction", '"Inbound"'), ("access", '"Allow"'), ("protocol", '"Tcp"'),
                     ("source_port_range", '"*"'), ("destination_port_range", "security_rule.value.port"),
                     ("source_address_prefix", "security_rule.value.source"),
                     ("destination_address_prefix", "each.value")], 6)
            + "    }\n  }\n" + deny_block
            + "}\n\n"
            + 'resource "azurerm_subnet_network_security_group_association" "this" {\n  for_each = local.subnets\n\n'
            "  subnet_id                 = azurerm_subnet.this[each.key].id\n"
            "  network_security_group_id = azurerm_network_security_group.this[each.key].id\n}\n"
        )
        subnet_text = ", ".join(f"{t} {c}" for t, c in cidrs.items())
        rule_text = "; ".join(words)
        instruction, _ = seen.pick([
            (f"Create an Azure virtual network `{vnet}` ({base}) for {workload} with subnets {subnet_text}. "
             f"Each subnet gets its own NSG. Allowed inbound: {rule_text}.", ""),
            (f"Terraform a hub-less VNet in {location} for the {team} team: address space {base}, "
             f"{len(tiers)} subnets ({subnet_text}), NSGs that permit {rule_text}.", ""),
            (f"Network for {workload} ({env}): tiers {', '.join(tiers)} in separate subnets of {base}. "
             f"Traffic rules: {rule_text}. No default outbound internet access.", ""),
            (f"Segment {workload} in Azure. I want one subnet per tier ({subnet_text}), an NSG on every "
             f"subnet, and these flows only: {rule_text}. SSH must never be open to the internet.", ""),
        ], i, " Block all other traffic between the subnets." if lateral_deny else "")
        prose = [
            f"Each subnet has its own NSG with explicit allow rules; SSH is open only to {admin_cidr}.",
            "A deny-all rule at priority 4096 overrides AllowVnetInBound, so tiers talk only on the listed "
            "ports." if lateral_deny else
            "Azure's default DenyAllInBound drops internet traffic the rules do not list.",
        ]
        if not lateral_deny:
            prose.append("`default_outbound_access_enabled = false` removes implicit internet egress; add a NAT "
                         "gateway or firewall deliberately.")
        drafts.append(draft(instruction, prose, code))
    return drafts


# (zone, what uses it, kind): "privatelink" zones resolve private endpoints, "internal" zones name VMs.
DNS_ZONES = [
    ("privatelink.blob.core.windows.net", "storage private endpoints", "privatelink"),
    ("privatelink.vaultcore.azure.net", "Key Vault private endpoints", "privatelink"),
    ("privatelink.postgres.database.azure.com", "PostgreSQL flexible servers", "privatelink"),
    ("privatelink.azurecr.io", "container registry private endpoints", "privatelink"),
    ("privatelink.database.windows.net", "Azure SQL private endpoints", "privatelink"),
    ("corp.internal", "internal service names", "internal"),
    ("svc.contoso.internal", "internal APIs", "internal"),
    ("lab.fabrikam.internal", "the test lab", "internal"),
]
RECORDS = [("api", "10.20.1.10"), ("grafana", "10.20.1.20"), ("vault", "10.20.2.5"), ("ldap", "10.20.3.4"),
           ("jenkins", "10.20.1.30"), ("registry", "10.20.1.40")]


def private_dns_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (zone, what, kind) in zip(template_order(rng, count, 3), rng.sample(DNS_ZONES, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        vnets = rng.sample(["hub", "spoke-app", "spoke-data", "shared", "aks"], rng.choice([1, 2, 3]))
        register = kind == "internal" and rng.random() < 0.6
        ttl = rng.choice([60, 300, 900, 3600])
        records = rng.sample(RECORDS, rng.choice([2, 3])) if kind == "internal" else []
        vnet_text = ", ".join(vnets)
        code = (
            header() + "\n"
            + variable("vnet_ids", "Virtual networks to link, keyed by a short name.", "map(string)") + "\n"
            + resource_group(f"rg-dns-{env}-{short}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_private_dns_zone" "this" {\n'
            f'  name                = "{zone}"\n  resource_group_name = azurerm_resource_group.this.name\n'
            "  tags                = local.tags\n}\n\n"
            'resource "azurerm_private_dns_zone_virtual_network_link" "this" {\n  for_each = var.vnet_ids\n\n'
            + attrs([("name", '"link-${each.key}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                     ("private_dns_zone_name", "azurerm_private_dns_zone.this.name"),
                     ("virtual_network_id", "each.value"),
                     ("registration_enabled", f'each.key == "{vnets[0]}"' if register else "false"),
                     ("tags", "local.tags")])
            + "}\n"
        )
        for host, ip in records:
            code += (f'\nresource "azurerm_private_dns_a_record" "{host}" {{\n'
                     f'  name                = "{host}"\n  zone_name           = azurerm_private_dns_zone.this.name\n'
                     "  resource_group_name = azurerm_resource_group.this.name\n"
                     f'  ttl                 = {ttl}\n  records             = ["{ip}"]\n'
                     "  tags                = local.tags\n}\n")
        record_text = ", ".join(f"{h} -> {ip}" for h, ip in records)
        reg = f" VMs in {vnets[0]} should register their own names automatically." if register else ""
        if kind == "privatelink":
            options = [
                (f"Create the private DNS zone {zone} for {what} and link it to these VNets: {vnet_text}. "
                 "Links must not auto-register VM records.", ""),
                (f"Private endpoints for {what} don't resolve from our {vnet_text} network(s). Add the "
                 f"{zone} zone in {location} and link it where needed.", ""),
                (f"Terraform for the {team} team: a privatelink DNS zone ({zone}) so {what} resolve to private "
                 f"IPs from {vnet_text}.", ""),
            ]
        else:
            options = [
                (f"Set up a private DNS zone `{zone}` for {what}, linked to {vnet_text}, with A records "
                 f"{record_text} (TTL {ttl}s).", ""),
                (f"We want names like {records[0][0]}.{zone} to resolve only inside Azure. Create the zone, "
                 f"link {vnet_text}, and add records for {record_text}.", ""),
                (f"Internal DNS for {what} ({env}): zone {zone} in {location}, records {record_text}, "
                 f"{ttl}-second TTL, linked to {vnet_text}.", ""),
            ]
        instruction, _ = seen.pick(options, i, reg)
        prose = [
            f"The zone is private, so {zone} answers only inside the linked virtual networks and nothing leaks "
            "into public DNS.",
            "Links are driven by the `vnet_ids` map, so adding a network is a one-line change.",
        ]
        if kind == "privatelink":
            prose.append("Auto-registration stays off: private endpoint DNS zone groups write their own A "
                         "records, and VM names do not belong in a privatelink zone.")
        elif register:
            prose.append(f"Only the {vnets[0]} link registers VM names automatically; the others resolve only.")
        else:
            prose.append(f"Records use a {ttl}-second TTL and auto-registration is off, so only the names "
                         "declared here exist.")
        drafts.append(draft(instruction, prose, code))
    return drafts


# (vm role, what it does)
VM_ROLES = [("build", "a CI build agent"), ("jump", "an admin jump host"), ("batch", "a batch worker"),
            ("monitor", "a monitoring collector"), ("proxy", "a forward proxy"), ("ftp", "an SFTP gateway"),
            ("etl", "an ETL runner"), ("gitlab", "a self-hosted GitLab runner")]
IMAGES = [("Canonical", "ubuntu-24_04-lts", "server", "Ubuntu 24.04"),
          ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "Ubuntu 22.04"),
          ("RedHat", "RHEL", "9-lvm-gen2", "RHEL 9"),
          ("Debian", "debian-12", "12-gen2", "Debian 12")]
VM_SIZES = ["Standard_B2s", "Standard_D2s_v5", "Standard_D4s_v5", "Standard_E2s_v5", "Standard_D2as_v5"]


def linux_vm_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (role, what) in zip(template_order(rng, count, 4), rng.sample(VM_ROLES, count), strict=True):
        location, short = rng.choice(LOCATIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        publisher, offer, sku, os_name = rng.choice(IMAGES)
        size = rng.choice(VM_SIZES)
        disk = rng.choice([32, 64, 128])
        zone = rng.choice(["1", "2", "3"])
        admin = rng.choice(["azureadmin", "opsadmin", "deploy"])
        des = rng.random() < 0.4
        name = f"vm-{role}-{env}-{short}-01"
        disk_attrs = [("caching", '"ReadWrite"'), ("storage_account_type", '"Premium_LRS"'),
                      ("disk_size_gb", str(disk))]
        variables = [variable("subnet_id", "Private subnet for the VM's NIC."),
                     variable("ssh_public_key", f"OpenSSH public key for {admin}.")]
        if des:
            disk_attrs.append(("disk_encryption_set_id", "var.disk_encryption_set_id"))
            variables.append(variable("disk_encryption_set_id", "Disk encryption set backed by our Key Vault key."))
        code = (
            header() + "\n" + "\n".join(variables) + "\n"
            + resource_group(f"rg-{role}-{env}-{short}", location, make_tags(rng, team, env)) + "\n"
            + 'resource "azurerm_network_interface" "this" {\n'
            f'  name                  = "nic-{role}-{env}-01"\n'
            "  resource_group_name   = azurerm_resource_group.this.name\n"
            "  location              = azurerm_resource_group.this.location\n"
            "  ip_forwarding_enabled = false\n  tags                  = local.tags\n\n"
            '  ip_configuration {\n    name                          = "internal"\n'
            "    subnet_id                     = var.subnet_id\n"
            '    private_ip_address_allocation = "Dynamic"\n  }\n}\n\n'
            'resource "azurerm_linux_virtual_machine" "this" {\n'
            + attrs([("name", f'"{name}"'), ("resource_group_name", "azurerm_resource_group.this.name"),
                     ("location", "azurerm_resource_group.this.location"), ("size", f'"{size}"'),
                     ("zone", f'"{zone}"'), ("admin_username", f'"{admin}"'),
                     ("disable_password_authentication", "true"),
                     ("network_interface_ids", "[azurerm_network_interface.this.id]"),
                     ("encryption_at_host_enabled", "true"), ("secure_boot_enabled", "true"),
                     ("vtpm_enabled", "true"),
                     ("patch_mode", '"AutomaticByPlatform"'), ("patch_assessment_mode", '"AutomaticByPlatform"'),
                     ("tags", "local.tags")])
            + f'\n  admin_ssh_key {{\n    username   = "{admin}"\n    public_key = var.ssh_public_key\n  }}\n\n'
            "  os_disk {\n" + attrs(disk_attrs, 4) + "  }\n\n"
            f'  source_image_reference {{\n    publisher = "{publisher}"\n    offer     = "{offer}"\n'
            f'    sku       = "{sku}"\n    version   = "latest"\n  }}\n\n'
            '  identity {\n    type = "SystemAssigned"\n  }\n\n'
            "  # Managed boot diagnostics: serial log and screenshot without a storage account to secure.\n"
            "  boot_diagnostics {}\n}\n"
        )
        cmk = " Encrypt the OS disk with our disk encryption set." if des else ""
        instruction, _ = seen.pick([
            (f"Create an Azure Linux VM for {what}: {os_name}, {size}, zone {zone}, {disk} GB Premium SSD. "
             f"SSH key login only for `{admin}`, no public IP, encryption at host.", ""),
            (f"Terraform a {os_name} virtual machine ({name}) in {location} that runs {what}. It must not "
             "accept passwords, must have no public address, and should use Trusted Launch.", ""),
            (f"I need {what} in Azure for the {team} team ({env}). Size {size}, {disk} GB OS disk, private "
             f"NIC only, admin user {admin} with my SSH public key, automatic OS patching.", ""),
            (f"Spin up {name}: {os_name} on {size} for {what}. Requirements: key-based SSH, secure boot and "
             "vTPM, platform-managed patching, and a managed identity instead of stored credentials.", ""),
        ], i, cmk)
        prose = [
            f"Password authentication is disabled and {admin} signs in with the SSH key from "
            "`ssh_public_key`; the NIC has no public IP, so access goes through Bastion or a VPN.",
            "Trusted Launch (secure boot plus vTPM) and encryption at host protect the boot chain and the "
            "data on the host, including temp disks and caches.",
            "OS patches are assessed and installed by the platform, and a system-assigned identity lets "
            "the VM reach Azure services without stored credentials.",
        ]
        if des:
            prose.append("The OS disk uses your disk encryption set, so the data is sealed with your own key.")
        drafts.append(draft(instruction, prose, code))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = vnet_family(rng, seen) + private_dns_family(rng, seen) + linux_vm_family(rng, seen)
    return finish(drafts, rng)
