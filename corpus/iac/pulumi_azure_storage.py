"""Pulumi (Python) examples for Azure with azure-native: hardened storage accounts and Key Vault secrets."""

from __future__ import annotations

import random

from .pulumi import Program, fill, finish, program

_HEADER = "import pulumi\nimport pulumi_azure_native as azure_native"
# Built-in role definition IDs.
_CRYPTO_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

_BASE_CONFIG = '''
    config = pulumi.Config()
    location = config.get("location") or "$location"
    account_name = config.require("storageAccountName")  # 3-24 lowercase letters and digits, globally unique
    tags = {"team": "$team", "managed-by": "pulumi"}

    resource_group = azure_native.resources.ResourceGroup("rg", resource_group_name="$group", location=location)'''


def _account(sku: str, extra: str = "", hns: bool = False, encryption: str = "") -> str:
    if not encryption:
        encryption = fill('''
            encryption=azure_native.storage.EncryptionArgs(
                key_source="Microsoft.Storage",
                require_infrastructure_encryption=True,
                services=azure_native.storage.EncryptionServicesArgs(
                    blob=azure_native.storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                    file=azure_native.storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                ),
            ),''').replace("\n", "\n    ")
    hns_line = "\n    is_hns_enabled=True," if hns else ""
    return fill('''
        account = azure_native.storage.StorageAccount(
            "account",
            account_name=account_name,
            resource_group_name=resource_group.name,
            location=resource_group.location,
            kind="StorageV2",
            sku=azure_native.storage.SkuArgs(name="$sku"),$hns
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            allow_blob_public_access=False,
            allow_shared_key_access=False,$extra
            $encryption
            tags=tags,
        )''', sku=sku, hns=hns_line, extra=extra, encryption=encryption)


_NETWORK = '''
    network_rule_set=azure_native.storage.NetworkRuleSetArgs(
        default_action=azure_native.storage.DefaultAction.DENY,
        bypass="AzureServices",
        ip_rules=[azure_native.storage.IPRuleArgs(i_p_address_or_range=cidr) for cidr in allowed_ranges],
    ),'''


def _blob_properties(days: int, change_feed: bool = False) -> str:
    feed = "\n    change_feed=azure_native.storage.ChangeFeedArgs(enabled=True, retention_in_days=90)," if change_feed \
        else ""
    return fill('''
        azure_native.storage.BlobServiceProperties(
            "blob-service",
            account_name=account.name,
            resource_group_name=resource_group.name,
            blob_services_name="default",
            is_versioning_enabled=True,$feed
            delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(enabled=True, days=$days),
            container_delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(enabled=True, days=$days),
        )''', feed=feed, days=days)


def _container(name: str) -> str:
    return fill('''
        container = azure_native.storage.BlobContainer(
            "container",
            account_name=account.name,
            resource_group_name=resource_group.name,
            container_name="$name",
            public_access=azure_native.storage.PublicAccess.NONE,
        )''', name=name)


def _app_data(rng: random.Random) -> Program:
    days = rng.choice([14, 30])
    config = fill(_BASE_CONFIG, location="westeurope", team="orders", group="rg-orders-data").replace(
        "tags = {", 'allowed_ranges = config.get_object("allowedIpRanges") or []\ntags = {', 1)
    blocks = [config, _account("Standard_ZRS", _NETWORK.rstrip()), _blob_properties(days), _container("uploads"),
              'pulumi.export("blob_endpoint", account.primary_endpoints.blob)']
    ask = (f"Write a Pulumi Python program (azure-native) for a zone-redundant StorageV2 account for the orders "
           f"service: TLS 1.2 minimum, no public blob access, no shared keys, network access denied except from IP "
           f"ranges in config, infrastructure encryption, blob versioning and {days}-day soft delete, and a private "
           "uploads container.")
    prose = ("Disabling shared key access forces Microsoft Entra ID authentication, so no account key can leak, and "
             "the network rule set rejects traffic from anywhere but the configured ranges and trusted Azure "
             f"services. Versioning plus {days}-day soft delete for blobs and containers covers accidental "
             "overwrites and deletes, and infrastructure encryption adds a second layer of encryption at rest.")
    return Program(ask, program("Hardened storage account for the orders service.", _HEADER, *blocks), prose,
                   provider="azure")


def _backups(rng: random.Random) -> Program:
    days = rng.choice([30, 35])
    blocks = [
        fill(_BASE_CONFIG, location="northeurope", team="dba", group="rg-db-backups"),
        _account("Standard_GRS", '\n    public_network_access="Disabled",'),
        _blob_properties(days, change_feed=True),
        _container("backups"),
        fill('''
            # Time-based retention: blobs cannot be modified or deleted until they are $days days old.
            azure_native.storage.BlobContainerImmutabilityPolicy(
                "backups-retention",
                account_name=account.name,
                resource_group_name=resource_group.name,
                container_name=container.name,
                immutability_policy_name="default",
                immutability_period_since_creation_in_days=$days,
                allow_protected_append_writes=False,
            )''', days=days),
        'pulumi.export("container_name", container.name)',
    ]
    ask = (f"Pulumi in Python with azure-native: a geo-redundant storage account for database backups with public "
           f"network access disabled, versioning, change feed, soft delete, and a backups container whose blobs are "
           f"immutable for {days} days.")
    prose = (f"The container's time-based immutability policy makes each backup write-once for {days} days, which "
             "protects it from ransomware or a compromised admin deleting it. Public network access is disabled, so "
             "backup agents must connect through a private endpoint, and geo-redundant storage keeps a copy in the "
             "paired region.")
    return Program(ask, program("Geo-redundant storage account for immutable database backups.", _HEADER, *blocks),
                   prose, provider="azure")


def _customer_key(rng: random.Random) -> Program:
    encryption = fill('''
        identity=azure_native.storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
        encryption=azure_native.storage.EncryptionArgs(
            key_source="Microsoft.Keyvault",
            encryption_identity=azure_native.storage.EncryptionIdentityArgs(
                encryption_user_assigned_identity=identity.id,
            ),
            key_vault_properties=azure_native.storage.KeyVaultPropertiesArgs(
                key_name=key.name,
                key_vault_uri=vault.properties.vault_uri,
            ),
            require_infrastructure_encryption=True,
        ),''').replace("\n", "\n    ")
    blocks = [
        fill(_BASE_CONFIG, location="westeurope", team="risk", group="rg-risk-data")
        + '\nclient = azure_native.authorization.get_client_config()',
        fill('''
            identity = azure_native.managedidentity.UserAssignedIdentity(
                "storage-cmk-identity",
                resource_group_name=resource_group.name,
                location=resource_group.location,
            )

            # Customer-managed keys for Storage require soft delete and purge protection on the vault.
            vault = azure_native.keyvault.Vault(
                "vault",
                resource_group_name=resource_group.name,
                location=resource_group.location,
                properties=azure_native.keyvault.VaultPropertiesArgs(
                    tenant_id=client.tenant_id,
                    sku=azure_native.keyvault.SkuArgs(family="A", name=azure_native.keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    enable_purge_protection=True,
                    soft_delete_retention_in_days=90,
                ),
                tags=tags,
            )

            key = azure_native.keyvault.Key(
                "storage-key",
                resource_group_name=resource_group.name,
                vault_name=vault.name,
                key_name="storage-cmk",
                properties=azure_native.keyvault.KeyPropertiesArgs(kty="RSA", key_size=3072),
            )

            key_access = azure_native.authorization.RoleAssignment(
                "storage-key-access",
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=f"/subscriptions/{client.subscription_id}/providers/Microsoft.Authorization/"
                "roleDefinitions/$role",  # Key Vault Crypto Service Encryption User
                scope=vault.id,
            )''', role=_CRYPTO_ENCRYPTION_USER),
        _account("Standard_ZRS", encryption=encryption).replace(
            "    tags=tags,\n)", "    tags=tags,\n    opts=pulumi.ResourceOptions(depends_on=[key_access]),\n)"),
        'pulumi.export("storage_account_id", account.id)',
    ]
    ask = ("Our risk data must be encrypted with our own key. Write a Pulumi Python program (azure-native) for a "
           "storage account encrypted with a customer-managed Key Vault key through a user-assigned identity, with "
           "the vault, key and role assignment included.")
    prose = ("Storage reaches the key through the user-assigned identity, which holds only the Key Vault Crypto "
             "Service Encryption User role on this vault, and the account waits for that assignment. Purge "
             "protection is mandatory for storage CMKs, so the key cannot be permanently deleted while data depends "
             "on it; your deployment identity needs Key Vault Crypto Officer to create the key.")
    return Program(ask, program("Storage account encrypted with a customer-managed key.", _HEADER, *blocks), prose,
                   provider="azure")


def _data_lake(rng: random.Random) -> Program:
    cool, archive = rng.choice([(30, 180), (60, 365)])
    policy = fill('''
        azure_native.storage.ManagementPolicy(
            "lifecycle",
            account_name=account.name,
            resource_group_name=resource_group.name,
            management_policy_name="default",
            policy={
                "rules": [
                    {
                        "name": "age-out-raw",
                        "enabled": True,
                        "type": "Lifecycle",
                        "definition": {
                            "filters": {"blob_types": ["blockBlob"], "prefix_match": ["raw/"]},
                            "actions": {
                                "base_blob": {
                                    "tier_to_cool": {"days_after_modification_greater_than": $cool},
                                    "tier_to_archive": {"days_after_modification_greater_than": $archive},
                                }
                            },
                        },
                    }
                ]
            },
        )''', cool=cool, archive=archive)
    blocks = [fill(_BASE_CONFIG, location="westeurope", team="analytics", group="rg-analytics-lake"),
              _account("Standard_ZRS", '\n    public_network_access="Disabled",', hns=True), _container("raw"),
              policy, 'pulumi.export("dfs_endpoint", account.primary_endpoints.dfs)']
    ask = (f"Create an ADLS Gen2 data lake account with Pulumi (Python, azure-native): hierarchical namespace, ZRS, "
           f"no public network access, no shared keys, a raw container, and a lifecycle rule that moves raw/ blobs "
           f"to cool after {cool} days and to archive after {archive}.")
    prose = ("The hierarchical namespace makes the account an ADLS Gen2 file system with directory-level ACLs for "
             "Spark and Synapse, while shared keys and public network access stay off. The management policy tiers "
             "old raw data down automatically, which is where most of a lake's storage cost goes.")
    return Program(ask, program("ADLS Gen2 data lake account with lifecycle tiering.", _HEADER, *blocks), prose,
                   provider="azure")


def _vault_secret(rng: random.Random) -> Program:
    blocks = [
        fill('''
            config = pulumi.Config()
            location = config.get("location") or "westeurope"
            vault_name = config.require("vaultName")
            app_principal_id = config.require("appPrincipalId")
            allowed_ranges = config.get_object("allowedIpRanges") or []
            # Set with: pulumi config set --secret paymentsApiKey <value>
            payments_api_key = config.require_secret("paymentsApiKey")
            client = azure_native.authorization.get_client_config()

            resource_group = azure_native.resources.ResourceGroup(
                "rg", resource_group_name="rg-payments", location=location
            )'''),
        fill('''
            vault = azure_native.keyvault.Vault(
                "vault",
                vault_name=vault_name,
                resource_group_name=resource_group.name,
                location=resource_group.location,
                properties=azure_native.keyvault.VaultPropertiesArgs(
                    tenant_id=client.tenant_id,
                    sku=azure_native.keyvault.SkuArgs(family="A", name=azure_native.keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    enable_purge_protection=True,
                    soft_delete_retention_in_days=90,
                    network_acls=azure_native.keyvault.NetworkRuleSetArgs(
                        default_action="Deny",
                        bypass="AzureServices",
                        ip_rules=[azure_native.keyvault.IPRuleArgs(value=cidr) for cidr in allowed_ranges],
                    ),
                ),
            )

            secret = azure_native.keyvault.Secret(
                "payments-api-key",
                resource_group_name=resource_group.name,
                vault_name=vault.name,
                secret_name="payments-api-key",
                properties=azure_native.keyvault.SecretPropertiesArgs(
                    value=payments_api_key, content_type="text/plain"
                ),
            )

            azure_native.authorization.RoleAssignment(
                "app-reads-secret",
                principal_id=app_principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=f"/subscriptions/{client.subscription_id}/providers/Microsoft.Authorization/"
                "roleDefinitions/$role",  # Key Vault Secrets User
                scope=secret.id,
            )''', role=_SECRETS_USER),
        'pulumi.export("secret_uri", secret.properties.secret_uri)',
    ]
    ask = ("Write a Pulumi Python program (azure-native) that creates a Key Vault with RBAC, purge protection and a "
           "deny-by-default firewall, stores a payments API key taken from encrypted config, and lets one app's "
           "managed identity read only that secret.")
    prose = ("The API key comes from `pulumi config set --secret`, so it is encrypted in config and state and "
             "never appears in the program. The Key Vault Secrets User role is assigned on the single secret rather "
             "than the vault, and purge protection with a 90-day soft delete keeps a deleted secret recoverable.")
    return Program(ask, program("Key Vault with a payments API key from encrypted config.", _HEADER, *blocks),
                   prose, provider="azure")


def _existing_vault_secret(rng: random.Random) -> Program:
    blocks = [
        fill('''
            config = pulumi.Config()
            resource_group_name = config.require("resourceGroupName")
            vault_name = config.require("vaultName")
            client_id = config.require("oauthClientId")
            # Set with: pulumi config set --secret oauthClientSecret <value>
            client_secret = config.require_secret("oauthClientSecret")'''),
        fill('''
            # The client ID is not sensitive, but keeping both values in one vault gives the app one place to read.
            azure_native.keyvault.Secret(
                "oauth-client-id",
                resource_group_name=resource_group_name,
                vault_name=vault_name,
                secret_name="oauth-client-id",
                properties=azure_native.keyvault.SecretPropertiesArgs(value=client_id, content_type="text/plain"),
            )

            secret = azure_native.keyvault.Secret(
                "oauth-client-secret",
                resource_group_name=resource_group_name,
                vault_name=vault_name,
                secret_name="oauth-client-secret",
                properties=azure_native.keyvault.SecretPropertiesArgs(value=client_secret, content_type="text/plain"),
                tags={"rotate": "yearly"},
            )'''),
        'pulumi.export("client_secret_uri", secret.properties.secret_uri_with_version)',
    ]
    ask = ("Add our OAuth client credentials to an existing Azure Key Vault with Pulumi (Python): the client ID "
           "from plain config and the client secret from secret config. Export only the secret's URI.")
    prose = ("Only the client secret is read with require_secret, which keeps it encrypted in the stack and masked "
             "in output; the exported versioned URI lets App Service or Functions reference it without seeing the "
             "value. The vault itself is managed elsewhere, so this stack only needs permission to set secrets.")
    return Program(ask, program("OAuth client credentials in an existing Key Vault.", _HEADER, *blocks), prose,
                   provider="azure")


def examples(rng: random.Random) -> list[dict]:
    builders = (_app_data, _backups, _customer_key, _data_lake, _vault_secret, _existing_vault_secret)
    return finish(rng, [builder(rng) for builder in builders])
