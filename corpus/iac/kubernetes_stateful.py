"""Kubernetes examples: StatefulSets with volume claim templates, PVC-backed Deployments, node-level DaemonSets."""

import random

from corpus.iac._k8s import (
    SIZES,
    Distinct,
    Draft,
    Raw,
    app_labels,
    container,
    deployment,
    env_from_secret,
    fence,
    finalize,
    http_probe,
    meta,
    picks,
    pod_spec,
    service,
    size_text,
    tmp_volume,
    to_yaml,
)

NAMESPACES = ["data", "cache", "messaging", "databases", "platform", "orders", "inventory", "tools", "ci",
              "observability", "monitoring", "telemetry"]
STORAGE_CLASSES = ["gp3", "standard-rwo", "premium-rwo", "managed-csi-premium", "fast-ssd"]


def _exec(*command: str) -> dict:
    return {"exec": {"command": list(command)}}


def _stateful_app(kind: str, name: str, ns: str, secret: str) -> dict:
    """Container settings per engine: ports, env, args, probes and the writable paths it needs."""
    if kind == "redis":
        return {"image": "redis:7.4.1", "port": 6379, "data": "/data", "runtime": [],
                # redis-cli reads REDISCLI_AUTH, so the probe authenticates without the password on its command line
                "args": ["--appendonly", "yes", "--requirepass", "$(REDISCLI_AUTH)"],
                "env": [env_from_secret("REDISCLI_AUTH", secret, "password")],
                "live": {"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15},
                "ready": _exec("sh", "-c", "redis-cli ping | grep -q PONG")}
    if kind == "postgres":
        return {"image": "postgres:16.6", "port": 5432, "data": "/var/lib/postgresql/data",
                "runtime": ["/var/run/postgresql"], "args": None,
                # the entrypoint reads *_FILE variables, so the password is mounted as a file, not put in env
                "env": [{"name": "POSTGRES_USER", "value": "app"}, {"name": "POSTGRES_DB", "value": name},
                        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                        {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/db/password"}],
                "live": {**_exec("pg_isready", "-U", "app", "-d", name), "initialDelaySeconds": 30},
                "ready": _exec("pg_isready", "-U", "app", "-d", name)}
    if kind == "mariadb":
        return {"image": "mariadb:11.4.4", "port": 3306, "data": "/var/lib/mysql", "runtime": ["/run/mysqld"],
                "args": None,
                "env": [{"name": "MARIADB_DATABASE", "value": name}, {"name": "MARIADB_USER", "value": "app"},
                        {"name": "MARIADB_PASSWORD_FILE", "value": "/run/secrets/db/password"},
                        {"name": "MARIADB_ROOT_PASSWORD_FILE", "value": "/run/secrets/db/root-password"}],
                "live": {"tcpSocket": {"port": "mariadb"}, "initialDelaySeconds": 30},
                "ready": {"tcpSocket": {"port": "mariadb"}}}
    routes = ",".join(f"nats://{name}-{i}.{name}.{ns}.svc:6222" for i in range(3))
    return {"image": "nats:2.10.22", "port": 4222, "data": "/data", "runtime": [],
            "args": ["--jetstream", "--store_dir=/data", "--http_port=8222", "--server_name=$(POD_NAME)",
                     f"--cluster_name={name}", "--cluster=nats://0.0.0.0:6222", f"--routes={routes}"],
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "live": {"httpGet": {"path": "/healthz", "port": 8222}, "initialDelaySeconds": 10},
            "ready": {"httpGet": {"path": "/healthz?js-enabled-only=true", "port": 8222}}}


STATEFUL = [("redis", ["session-cache", "rate-limit-store", "queue-redis"]),
            ("postgres", ["orders-db", "ledger-db", "keycloak-db"]),
            ("mariadb", ["wiki-db", "shop-mariadb"]),
            ("nats", ["event-bus", "nats-js"])]
STATEFUL_TEMPLATES = [
    "Write a StatefulSet for {engine} ({image}) named {name} in namespace {ns}, with a headless Service and a "
    "{storage} volume per pod on the {sc} storage class.",
    "I need to run {engine} on Kubernetes as {name} ({ns} namespace). Each replica must keep its own persistent "
    "volume ({storage}, class {sc}) across restarts; {count}; resources {sizes}.",
    "Create the manifests for a {members} {engine} StatefulSet called {name}: stable network identity via a "
    "headless Service, volumeClaimTemplates requesting {storage} from {sc}, namespace {ns}. {secret_note}",
    "Stateful workload request: engine={engine}, image={image}, name={name}, namespace={ns}, disk={storage} on {sc}. "
    "Pods must run as non-root and have liveness and readiness probes. {secret_note}",
]


def _statefulset(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, ((kind, names), ns, sc) in enumerate(zip(picks(rng, STATEFUL, n), picks(rng, NAMESPACES[:6], n),
                                                    picks(rng, STORAGE_CLASSES, n), strict=True)):
        name = names[i // len(STATEFUL) % len(names)]
        secret = f"{name}-auth"
        spec = _stateful_app(kind, name, ns, secret)
        replicas = 3 if kind == "nats" else 1
        storage = rng.choice(["5Gi", "10Gi", "20Gi", "50Gi"])
        size = SIZES[rng.choice([2, 3, 4])]
        ports = [{"name": kind, "containerPort": spec["port"]}]
        if kind == "nats":
            ports += [{"name": "cluster", "containerPort": 6222}, {"name": "monitor", "containerPort": 8222}]
        mounts = [{"name": "data", "mountPath": spec["data"]}, {"name": "tmp", "mountPath": "/tmp"}]
        volumes = [tmp_volume()]
        for j, path in enumerate(spec["runtime"]):
            mounts.append({"name": f"run{j}", "mountPath": path})
            volumes.append({"name": f"run{j}", "emptyDir": {}})
        if kind in ("postgres", "mariadb"):
            mounts.append({"name": "db-secret", "mountPath": "/run/secrets/db", "readOnly": True})
            volumes.append({"name": "db-secret", "secret": {"secretName": secret, "defaultMode": Raw("0440")}})
        main = container(kind, spec["image"], size, args=spec["args"], ports=ports, env=spec["env"],
                         livenessProbe=spec["live"], readinessProbe=spec["ready"], volumeMounts=mounts)
        labels = app_labels(name)
        pod = pod_spec([main], volumes=volumes, terminationGracePeriodSeconds=60)
        sts = {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name, ns, labels),
            "spec": {
                "serviceName": name, "replicas": replicas,
                "podManagementPolicy": "Parallel" if kind == "nats" else "OrderedReady",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod},
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                             "resources": {"requests": {"storage": storage}}},
                }],
            },
        }
        headless = service(name, ns, spec["port"], target=kind, headless=True)
        if kind == "nats":
            headless["spec"]["ports"].append({"name": "cluster", "port": 6222, "targetPort": "cluster"})
        secret_note = (f"The password already lives in the Secret {secret}." if kind != "nats"
                       else "No credentials are needed for this one.")
        instruction = seen.pick([t.format(engine=kind, image=spec["image"], name=name, ns=ns, storage=storage, sc=sc,
                                          replicas=replicas, count=f"{replicas} replica{'s' * (replicas > 1)}",
                                          sizes=size_text(size), secret_note=secret_note,
                                          members="single-instance" if replicas == 1 else f"{replicas}-member")
                                 for t in STATEFUL_TEMPLATES], i)
        prose = (f"The headless Service gives every pod a stable DNS name ({name}-0.{name}.{ns}.svc), and the "
                 f"volumeClaimTemplate creates one {storage} {sc} volume per ordinal that survives rescheduling. ")
        prose += ("Three servers form a JetStream cluster through the route list, with `Parallel` pod management so "
                  "they start together and `/healthz?js-enabled-only=true` gating readiness." if kind == "nats" else
                  f"Credentials come from the existing Secret `{secret}` rather than the manifest"
                  + (", mounted as read-only files that the image's *_FILE variables point to" if kind != "redis"
                     else "") + ", and the container runs as a non-root UID with a read-only root filesystem.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(headless, sts))]))
    return drafts


# (app, image, port, data path, probe path, env)
PVC_APPS = [
    ("registry", "registry:2.8.3", 5000, "/var/lib/registry", "/",
     [{"name": "REGISTRY_STORAGE_DELETE_ENABLED", "value": "true"}]),
    ("grafana", "grafana/grafana:11.4.0", 3000, "/var/lib/grafana", "/api/health",
     [{"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"}]),
]
PVC_NAMES = {"registry": ["build-cache-registry", "mirror-registry"], "grafana": ["team-grafana", "ops-grafana"]}
PVC_TEMPLATES = [
    "Run {image} as {name} in namespace {ns} with its data on a {storage} PersistentVolumeClaim ({sc}). "
    "One replica is enough, but updates must not deadlock on the ReadWriteOnce volume.",
    "Create a PVC and a Deployment for {name} ({image}) in {ns}: claim {storage} of {sc} storage, mount it at "
    "{path}, and give the pod {sizes}.",
    "Our single-instance {app} ({ns}/{name}) loses everything when its pod moves. Give it a {storage} persistent "
    "volume claim on {sc} mounted at {path}, keeping the container hardened.",
]
SNAPSHOT_TEMPLATES = [
    "Write a PersistentVolumeClaim named {name} in {ns} that restores the VolumeSnapshot {snapshot} into a "
    "{storage} volume on storage class {sc}.",
    "Restore test: create PVC {name} (namespace {ns}, class {sc}, {storage}) pre-populated from the snapshot "
    "{snapshot}.",
]


def _pvc(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (ns, sc) in enumerate(zip(picks(rng, NAMESPACES[5:], n), picks(rng, STORAGE_CLASSES, n), strict=True)):
        storage = rng.choice(["2Gi", "5Gi", "10Gi", "25Gi"])
        if i % 4 == 3:
            name = rng.choice(["orders-db-restore", "reports-restore", "uploads-clone"])
            snapshot = f"{name.split('-')[0]}-snap-{rng.choice(['0412', '1130', '2207'])}"
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(name, ns),
                     "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                              "dataSource": {"name": snapshot, "kind": "VolumeSnapshot",
                                             "apiGroup": "snapshot.storage.k8s.io"},
                              "resources": {"requests": {"storage": storage}}}}
            instruction = seen.pick([t.format(name=name, ns=ns, snapshot=snapshot, storage=storage, sc=sc)
                                     for t in SNAPSHOT_TEMPLATES], i)
            prose = ("The claim's `dataSource` points at the VolumeSnapshot, so the CSI driver provisions a new volume "
                     "pre-filled with the snapshot contents. The requested size must be at least the snapshot's "
                     "restore size, and the storage class must belong to the same CSI driver that took it.")
            drafts.append(Draft(instruction, prose, [fence(to_yaml(claim))]))
            continue
        app, image, port, path, probe, env = PVC_APPS[i % len(PVC_APPS)]
        name = PVC_NAMES[app][i // 2 % 2]
        size = SIZES[rng.choice([1, 2])]
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(f"{name}-data", ns),
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                          "resources": {"requests": {"storage": storage}}}}
        main = container(name, image, size, ports=[{"name": "http", "containerPort": port}], env=env,
                         livenessProbe=http_probe(probe, "http", delay=15), readinessProbe=http_probe(probe, "http"),
                         volumeMounts=[{"name": "data", "mountPath": path}, {"name": "tmp", "mountPath": "/tmp"}])
        pod = pod_spec([main], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}},
                                        tmp_volume()])
        dep = deployment(name, ns, 1, pod, strategy={"type": "Recreate"})
        instruction = seen.pick([t.format(image=image, name=name, ns=ns, storage=storage, sc=sc, path=path, app=app,
                                          sizes=size_text(size)) for t in PVC_TEMPLATES], i)
        prose = (f"The claim asks {sc} for {storage} of ReadWriteOnce storage, which only one node can attach at a "
                 "time. That is why the Deployment uses the `Recreate` strategy: a rolling update would start the new "
                 "pod before the old one releases the volume and hang on attach. "
                 f"fsGroup 10001 makes the mounted volume writable for the non-root user.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(claim, dep))]))
    return drafts


DAEMON_NAMES = {"node-exporter": ["node-exporter", "host-metrics"], "otel-agent": ["otel-agent", "trace-agent"]}
DAEMON_TEMPLATES = {
    "node-exporter": [
        "Run Prometheus node-exporter ({image}) on every node, control-plane nodes included, as a DaemonSet named "
        "{name} in {ns}. Host /proc, /sys and / must be mounted read-only.",
        "Deploy a host metrics agent to all nodes: DaemonSet {name}, namespace {ns}, image {image}, port 9100, "
        "maxUnavailable {unavailable} during rollouts, and no root user.",
        "node-exporter everywhere please: {ns} namespace, name {name}, pinned {image}, tolerate every taint, and "
        "read host metrics through read-only hostPath mounts rather than a privileged pod.",
        "Give me a hardened DaemonSet for {image} called {name} ({ns}). Roll updates out with maxUnavailable "
        "{unavailable}, expose metrics on 9100, and drop all capabilities.",
    ],
    "otel-agent": [
        "Roll out an OpenTelemetry Collector agent on each node ({ns}/{name}, {image}) that accepts OTLP on 4317/4318 "
        "and forwards batches to {gateway}. Apps should reach the agent on their own node only.",
        "Write a DaemonSet plus ConfigMap and Service for a node-local OTLP collector called {name} in {ns}. It must "
        "export to {gateway}, cap its memory, and expose a health check for probes.",
        "Each node should run its own trace collector, {name} in {ns}, using {image}. Send everything to "
        "{gateway}; add a Service whose traffic stays on the local node.",
        "OTLP agent as a DaemonSet: name {name}, namespace {ns}, upstream gateway {gateway}, rollout "
        "maxUnavailable {unavailable}, config from a ConfigMap.",
    ],
}


def _otel_config(gateway: str) -> str:
    return ("extensions:\n  health_check:\n    endpoint: 0.0.0.0:13133\nreceivers:\n  otlp:\n    protocols:\n"
            "      grpc:\n        endpoint: 0.0.0.0:4317\n      http:\n        endpoint: 0.0.0.0:4318\nprocessors:\n"
            "  memory_limiter:\n    check_interval: 1s\n    limit_percentage: 80\n  batch: {}\nexporters:\n  otlp:\n"
            f"    endpoint: {gateway}\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces:\n"
            "      receivers: [otlp]\n      processors: [memory_limiter, batch]\n      exporters: [otlp]\n")


def _daemonset(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, ns in enumerate(picks(rng, NAMESPACES[9:], n)):
        kind = ["node-exporter", "otel-agent"][i % 2]
        name = DAEMON_NAMES[kind][i // 2 % 2]
        unavailable = rng.choice(["1", "10%", "25%"])
        gateway = f"otel-gateway.{rng.choice(['observability', 'tracing'])}.svc:4317"
        labels = app_labels(name)
        strategy = {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": int(unavailable) if unavailable.isdigit() else unavailable}}
        docs = []
        if kind == "node-exporter":
            image = "quay.io/prometheus/node-exporter:v1.8.2"
            host = [("proc", "/proc", "/host/proc"), ("sys", "/sys", "/host/sys"), ("root", "/", "/host/root")]
            mounts = [{"name": v, "mountPath": m, "readOnly": True} for v, _, m in host]
            mounts[2]["mountPropagation"] = "HostToContainer"
            main = container(name, image, SIZES[0], args=["--path.procfs=/host/proc", "--path.sysfs=/host/sys",
                                                           "--path.rootfs=/host/root", "--web.listen-address=:9100"],
                             ports=[{"name": "metrics", "containerPort": 9100}],
                             livenessProbe=http_probe("/", "metrics"), readinessProbe=http_probe("/", "metrics"),
                             volumeMounts=mounts)
            pod = pod_spec([main], uid=65534, volumes=[{"name": v, "hostPath": {"path": p}} for v, p, _ in host],
                           tolerations=[{"operator": "Exists"}])
            prose = ("The host's /proc, /sys and root filesystem are mounted read-only and the exporter is told "
                     "where they are, so it reports node metrics without hostNetwork, hostPID or privileged mode. "
                     "A blanket `operator: Exists` toleration schedules it on tainted and control-plane nodes too, "
                     "and it runs as nobody (65534) with every capability dropped.")
        else:
            image = "otel/opentelemetry-collector:0.115.1"
            main = container(name, image, SIZES[1], args=["--config=/conf/config.yaml"],
                             ports=[{"name": "otlp-grpc", "containerPort": 4317},
                                    {"name": "otlp-http", "containerPort": 4318},
                                    {"name": "health", "containerPort": 13133}],
                             livenessProbe=http_probe("/", "health"), readinessProbe=http_probe("/", "health"),
                             volumeMounts=[{"name": "config", "mountPath": "/conf", "readOnly": True}])
            pod = pod_spec([main], volumes=[{"name": "config", "configMap": {"name": f"{name}-config"}}])
            docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{name}-config", ns),
                         "data": {"config.yaml": _otel_config(gateway)}})
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns, labels),
                         "spec": {"selector": labels, "internalTrafficPolicy": "Local",
                                  "ports": [{"name": "otlp-grpc", "port": 4317, "targetPort": "otlp-grpc"},
                                            {"name": "otlp-http", "port": 4318, "targetPort": "otlp-http"}]}})
            prose = ("`internalTrafficPolicy: Local` on the Service keeps each app's spans on its own node's agent, "
                     "so telemetry never crosses nodes before it is batched. The memory_limiter processor sheds load "
                     "before the container hits its memory limit, and the health_check extension backs both probes.")
        docs.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(name, ns, labels),
                     "spec": {"selector": {"matchLabels": labels}, "updateStrategy": strategy,
                              "template": {"metadata": {"labels": labels}, "spec": pod}}})
        instruction = seen.pick([t.format(name=name, ns=ns, image=image, unavailable=unavailable, gateway=gateway)
                                 for t in DAEMON_TEMPLATES[kind]], i // 2)
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))]))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _statefulset(rng, 9, seen) + _pvc(rng, 7, seen) + _daemonset(rng, 7, seen)
    return finalize(drafts, rng, "kubernetes")
