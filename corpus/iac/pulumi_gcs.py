"""Pulumi (Python) examples for Google Cloud: private Cloud Storage buckets and Secret Manager secrets."""

from __future__ import annotations

import random

from .pulumi import Program, fill, finish, program

_HEADER = "import pulumi\nimport pulumi_gcp as gcp"

_CMEK = '''
    # Cloud KMS spells the multi-regions differently from Cloud Storage (EU is "europe").
    kms_location = {"EU": "europe", "US": "us", "ASIA": "asia"}.get(location, location.lower())
    key_ring = gcp.kms.KeyRing("storage", name=f"{bucket_name}-ring", location=kms_location)

    key = gcp.kms.CryptoKey(
        "bucket-key",
        name=f"{bucket_name}-key",
        key_ring=key_ring.id,
        rotation_period="7776000s",  # 90 days
    )

    # Cloud Storage encrypts with the key through its service agent, which needs this role first.
    storage_agent = gcp.storage.get_project_service_account()
    key_access = gcp.kms.CryptoKeyIAMMember(
        "storage-agent-key-access",
        crypto_key_id=key.id,
        role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member=f"serviceAccount:{storage_agent.email_address}",
    )'''

_GCS = [
    {"name": "analytics-landing", "location": "EU", "team": "data-platform", "kms": "new", "versioning": True,
     "rules": [("SetStorageClass", "NEARLINE", "age=30", "move objects to Nearline after 30 days"),
               ("Delete", None, "days_since_noncurrent_time=30", "delete noncurrent versions after 30 days")],
     "purpose": "files landed by upstream systems for the analytics pipeline"},
    {"name": "db-backups", "location": "US", "team": "dba", "kms": "config", "retention_days": 30,
     "rules": [("Delete", None, "age=90", "delete backups after 90 days")],
     "purpose": "database backups that must be kept at least 30 days"},
    {"name": "ml-training-data", "location": "US-CENTRAL1", "team": "ml", "kms": "new", "versioning": True,
     "autoclass": True, "rules": [("Delete", None, "num_newer_versions=3", "keep at most three newer versions")],
     "purpose": "machine-learning training data with unpredictable access patterns"},
    {"name": "ci-artifacts", "location": "EUROPE-WEST1", "team": "developer-experience", "kms": "google",
     "soft_delete": 7, "rules": [("Delete", None, "age=14", "delete artifacts after 14 days")],
     "purpose": "short-lived CI build artifacts"},
]


def _rule(action: str, storage_class: str | None, condition: str, _: str) -> str:
    klass = f', storage_class="{storage_class}"' if storage_class else ""
    prefix = "gcp.storage.BucketLifecycleRule"
    return (f"        {prefix}Args(\n            action={prefix}ActionArgs(type=\"{action}\"{klass}),\n"
            f"            condition={prefix}ConditionArgs({condition}),\n        ),")


def _gcs_code(spec: dict) -> str:
    config = [f'config = pulumi.Config()\nbucket_name = config.require("bucketName")\n'
              f'location = config.get("location") or "{spec["location"]}"\n'
              'log_bucket = config.require("logBucket")']
    if spec["kms"] == "config":
        config.append('kms_key_name = config.require("kmsKeyName")')
    if spec.get("reader"):
        config.append('reader_email = config.require("readerServiceAccount")')
    blocks = ["\n".join(config)]
    args = ["name=bucket_name", "location=location", "uniform_bucket_level_access=True",
            'public_access_prevention="enforced"']
    depends = ""
    if spec["kms"] == "new":
        blocks.append(fill(_CMEK))
        args.append("encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.id)")
        depends = "\n    opts=pulumi.ResourceOptions(depends_on=[key_access]),"
    elif spec["kms"] == "config":
        args.append("encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=kms_key_name)")
    if spec.get("versioning"):
        args.append("versioning=gcp.storage.BucketVersioningArgs(enabled=True)")
    if spec.get("retention_days"):
        args.append(f'retention_policy=gcp.storage.BucketRetentionPolicyArgs(retention_period='
                    f'"{spec["retention_days"] * 86400}")')
    if spec.get("soft_delete"):
        args.append(f"soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(retention_duration_seconds="
                    f"{spec['soft_delete'] * 86400})")
    if spec.get("autoclass"):
        args.append("autoclass=gcp.storage.BucketAutoclassArgs(enabled=True)")
    args.append("lifecycle_rules=[\n" + "\n".join(_rule(*rule) for rule in spec["rules"]) + "\n    ]")
    args.append('logging=gcp.storage.BucketLoggingArgs(log_bucket=log_bucket, log_object_prefix=bucket_name)')
    args.append(f'labels={{"team": "{spec["team"]}", "managed-by": "pulumi"}}')
    body = ",\n".join("    " + arg for arg in args) + ","
    blocks.append(f'bucket = gcp.storage.Bucket(\n    "bucket",\n{body}{depends}\n)')
    if spec.get("reader"):
        blocks.append(fill('''
            # Replaces the public allUsers grant: only the reporting service account may read.
            gcp.storage.BucketIAMMember(
                "reader",
                bucket=bucket.name,
                role="roles/storage.objectViewer",
                member=f"serviceAccount:{reader_email}",
            )'''))
    blocks.append('pulumi.export("bucket_url", bucket.url)')
    return program(f"Private Cloud Storage bucket for {spec['purpose']}.", _HEADER, *blocks)


def _gcs_reqs(spec: dict) -> str:
    reqs = ["uniform bucket-level access", "public access prevention enforced",
            {"new": "a new Cloud KMS key rotated every 90 days", "config": "the CMEK key named in config",
             "google": "Google-managed encryption"}[spec["kms"]]]
    if spec.get("versioning"):
        reqs.append("object versioning")
    if spec.get("retention_days"):
        reqs.append(f"a {spec['retention_days']}-day retention policy")
    if spec.get("soft_delete"):
        reqs.append(f"{spec['soft_delete']}-day soft delete")
    if spec.get("autoclass"):
        reqs.append("Autoclass")
    reqs += [rule[3] for rule in spec["rules"]]
    reqs.append("access logs to the bucket named in config")
    return ", ".join(reqs[:-1]) + " and " + reqs[-1]


_GCS_ASKS = [
    "Write a Pulumi Python program (pulumi_gcp) for a Cloud Storage bucket in {location} holding {purpose}. "
    "Requirements: {reqs}.",
    "Create a GCS bucket with Pulumi in Python for {purpose}: {reqs}. Location {location}.",
    "I need a private Google Cloud Storage bucket for {purpose}, written with Pulumi (Python), with {reqs}.",
]


def _gcs_prose(spec: dict) -> str:
    parts = ["Uniform bucket-level access turns off object ACLs, and enforced public access prevention blocks "
             "allUsers and allAuthenticatedUsers grants even if someone adds one later."]
    if spec["kms"] == "new":
        parts.append("The bucket uses its own Cloud KMS key rotated every 90 days; the storage service agent is "
                     "granted the key before the bucket is created, otherwise creation fails.")
    elif spec.get("retention_days"):
        parts.append(f"The retention policy blocks deleting or overwriting any backup for {spec['retention_days']} "
                     "days; versioning is left off because Cloud Storage does not allow it with a retention policy.")
    elif spec["kms"] == "google":
        parts.append("Google-managed encryption is enough for disposable artifacts, and soft delete still allows "
                     "recovering an object deleted by mistake within a week.")
    if spec.get("autoclass"):
        parts.append("Autoclass moves objects between storage classes by access pattern, so no transition rules are "
                     "needed.")
    return " ".join(parts)


def _gcs(rng: random.Random) -> list[Program]:
    asks = _GCS_ASKS * 2
    rng.shuffle(asks)
    programs = [Program(ask.format(location=spec["location"], purpose=spec["purpose"], reqs=_gcs_reqs(spec)),
                        _gcs_code(spec), _gcs_prose(spec), provider="gcp")
                for spec, ask in zip(_GCS, asks, strict=False)]
    given = fill('''
        import pulumi
        import pulumi_gcp as gcp

        bucket = gcp.storage.Bucket("reports", name="acme-reports", location="EU")

        gcp.storage.BucketIAMMember(
            "public-read",
            bucket=bucket.name,
            role="roles/storage.objectViewer",
            member="allUsers",
        )''')
    fixed = {"name": "reports", "location": "EU", "team": "finance", "kms": "new", "versioning": True,
             "rules": [("Delete", None, "days_since_noncurrent_time=60", "")], "purpose": "internal reports",
             "reader": True}
    code = _gcs_code(fixed)
    ask = rng.choice([
        "This bucket is readable by anyone on the internet. Make it private, give read access only to our "
        "reporting service account, and add CMEK encryption and versioning.",
        "Our reports bucket grants objectViewer to allUsers. Fix it in Pulumi: private bucket, CMEK, versioning, "
        "access logs, and read access for one service account only.",
    ])
    prose = ("The allUsers binding made every report public; it is replaced by a grant to one service "
             "account. " + _gcs_prose(fixed))
    programs.append(Program(ask, code, prose, provider="gcp", input=given))
    return programs


def _secret_regional(rng: random.Random) -> Program:
    regions = rng.choice([("europe-west1", "europe-west4"), ("us-central1", "us-east1")])
    blocks = [
        fill('''
            config = pulumi.Config()
            runtime_service_account = config.require("runtimeServiceAccount")
            # Set with: pulumi config set --secret dbPassword <value>
            db_password = config.require_secret("dbPassword")'''),
        fill('''
            secret = gcp.secretmanager.Secret(
                "db-password",
                secret_id="orders-db-password",
                replication=gcp.secretmanager.SecretReplicationArgs(
                    user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                        replicas=[
                            gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location="$first"),
                            gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location="$second"),
                        ]
                    )
                ),
                labels={"service": "orders", "managed-by": "pulumi"},
            )

            gcp.secretmanager.SecretVersion("db-password", secret=secret.id, secret_data=db_password)

            gcp.secretmanager.SecretIamMember(
                "runtime-accessor",
                secret_id=secret.id,
                role="roles/secretmanager.secretAccessor",
                member=f"serviceAccount:{runtime_service_account}",
            )''', first=regions[0], second=regions[1]),
        'pulumi.export("secret_name", secret.name)',
    ]
    ask = (f"Write a Pulumi Python program that stores the orders database password in Google Secret Manager, "
           f"replicated only to {regions[0]} and {regions[1]}, taking the value from encrypted Pulumi config and "
           "letting just the service's runtime service account read it.")
    prose = ("User-managed replication keeps the secret in the two regions you name, which matters for data "
             "residency, and the value comes from `pulumi config set --secret`, so it is encrypted in config and "
             "state. The accessor role is granted on this secret alone rather than on the project.")
    return Program(ask, program("Orders database password in Secret Manager with regional replication.", _HEADER,
                                *blocks), prose, provider="gcp")


def _secret_expiring(rng: random.Random) -> Program:
    days = rng.choice([30, 90])
    blocks = [
        fill('''
            config = pulumi.Config()
            consumer_service_account = config.require("consumerServiceAccount")
            # Set with: pulumi config set --secret partnerToken <value>
            partner_token = config.require_secret("partnerToken")'''),
        fill('''
            secret = gcp.secretmanager.Secret(
                "partner-token",
                secret_id="partner-api-token",
                replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
                ttl="${seconds}s",  # the partner issues tokens valid for $days days
                labels={"owner": "integrations"},
            )

            gcp.secretmanager.SecretVersion("partner-token", secret=secret.id, secret_data=partner_token)

            gcp.secretmanager.SecretIamMember(
                "consumer-accessor",
                secret_id=secret.id,
                role="roles/secretmanager.secretAccessor",
                member=f"serviceAccount:{consumer_service_account}",
            )''', seconds=days * 86400, days=days),
        'pulumi.export("secret_id", secret.secret_id)',
    ]
    ask = (f"Pulumi (Python, GCP): keep a partner API token that is valid for {days} days in Secret Manager so it "
           "expires with the token. Read the token from secret config and allow one service account to access it.")
    prose = (f"The secret's TTL deletes it after {days} days, matching the token's lifetime, so a stale token "
             "cannot linger; re-running `pulumi up` with a new value recreates it. Access is granted to one service "
             "account on this secret only.")
    return Program(ask, program("Expiring partner token in Secret Manager.", _HEADER, *blocks), prose,
                   provider="gcp")


def examples(rng: random.Random) -> list[dict]:
    return finish(rng, [*_gcs(rng), _secret_regional(rng), _secret_expiring(rng)])
