"""Kubernetes examples: stateless web apps, ConfigMap-mounted config, credentials from existing Secrets."""

import random

from corpus.iac._k8s import (
    SIZES,
    WEB_IMAGES,
    Distinct,
    Draft,
    container,
    deployment,
    env_from_secret,
    fence,
    finalize,
    http_probe,
    picks,
    pod_spec,
    probe_text,
    service,
    size_text,
    tmp_volume,
    to_yaml,
    zone_spread,
)

NAMESPACES = ["shop", "payments", "media", "analytics", "platform", "identity", "search", "billing",
              "catalog", "notifications", "reporting", "logistics", "support", "edge", "partners", "growth"]

WEB_NAMES = ["catalog-api", "checkout-web", "profile-service", "docs-site", "status-page", "search-frontend",
             "invoice-ui", "media-gateway", "partner-portal", "recommendations", "notify-api", "geo-lookup"]

WEB_TEMPLATES = [
    "Deploy {app} to Kubernetes in the `{ns}` namespace using the image {image}: {replicas} replicas listening on "
    "port {port}, exposed inside the cluster by a ClusterIP Service on port {svc}.",
    "I need manifests for a stateless service called {app} ({image}). Run {replicas} copies in namespace {ns}, give "
    "each pod {sizes}, and put a Service in front of it that maps port {svc} to container port {port}.",
    "Write a Deployment plus Service for {app}. Requirements:\n- namespace {ns}\n- image {image}\n- {replicas} "
    "replicas\n- probes: {probes}\n- Service port {svc}",
    "Create YAML so {app} runs as a hardened non-root workload in {ns}. Use {image} with {replicas} replicas spread "
    "over availability zones, and make it reachable at {app}.{ns}.svc on port {svc}.",
    "Give me a production-ready k8s Deployment for the container {image}, app name {app}, in {ns}. It serves HTTP "
    "on {port}; the Service should listen on {svc}. Scale: {replicas} pods. Resources: {sizes}.",
    "How would I run {image} on our cluster as `{app}`? Namespace `{ns}`, {replicas} instances, port {port} "
    "behind a Service on {svc}, probes on {ready}, and pods that survive a whole zone going down.",
]


def _web(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (app, ns, img, size) in enumerate(zip(picks(rng, WEB_NAMES, n), picks(rng, NAMESPACES, n),
                                                   picks(rng, WEB_IMAGES, n), picks(rng, SIZES[:4], n),
                                                   strict=True)):
        image, port, live, ready, args = img
        replicas, svc = rng.choice([2, 3, 4, 6]), rng.choice([80, 8080, 8000])
        instruction = seen.pick([t.format(app=app, ns=ns, image=image, replicas=replicas, port=port, svc=svc,
                                          sizes=size_text(size), probes=probe_text(live, ready), ready=ready)
                                 for t in WEB_TEMPLATES], i)
        spread = "zone" in instruction or rng.random() < 0.3
        main = container(app, image, size, args=args, ports=[{"name": "http", "containerPort": port}],
                         livenessProbe=http_probe(live, "http", delay=10),
                         readinessProbe=http_probe(ready, "http", period=5),
                         volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])
        pod = pod_spec([main], volumes=[tmp_volume()], topologySpreadConstraints=zone_spread(app) if spread else None)
        code = to_yaml(deployment(app, ns, replicas, pod), service(app, ns, svc))
        prose = (f"Each {app} pod runs as UID 10001 with a read-only root filesystem, every Linux capability "
                 "dropped and the RuntimeDefault seccomp profile; a small emptyDir at /tmp is the only writable path. "
                 f"The readiness probe on {ready} keeps pods out of the Service until they can serve, while the "
                 f"liveness probe on {live} restarts a hung process. ")
        prose += ("A zone topology spread keeps one zone outage from taking every replica, and `maxUnavailable: 0` "
                  "means rollouts never drop below the desired count." if spread else
                  f"Rolling updates add a pod before removing one, so capacity never falls below {replicas} replicas, "
                  "and the service account token is not mounted because the app never calls the API server.")
        drafts.append(Draft(instruction, prose, [fence(code)]))
    return drafts


# (config style, image, port, liveness path, readiness path)
CONFIG_APPS = [
    ("proxy", "nginxinc/nginx-unprivileged:1.27.3-alpine", 8080, "/healthz", "/healthz"),
    ("static", "nginxinc/nginx-unprivileged:1.27.2-alpine", 8080, "/healthz", "/healthz"),
    ("prometheus", "prom/prometheus:v3.0.1", 9090, "/-/healthy", "/-/ready"),
]
CONFIG_NAMES = {"proxy": ["api-proxy", "edge-router", "legacy-proxy"],
                "static": ["maintenance-page", "landing-static", "help-center"],
                "prometheus": ["metrics-scraper", "lab-prometheus", "dev-prometheus"]}
UPSTREAMS = [("orders", 8080), ("inventory", 9000), ("accounts", 8081), ("pricing", 3000)]


def _nginx_conf(style: str, upstream: str, up_port: int, ns: str) -> str:
    health = '    location = /healthz {\n        access_log off;\n        return 200 "ok\\n";\n    }\n'
    body = (f"    location / {{\n        proxy_pass http://{upstream}.{ns}.svc.cluster.local:{up_port};\n"
            "        proxy_set_header Host $host;\n        proxy_set_header X-Forwarded-For $remote_addr;\n    }\n"
            if style == "proxy" else
            "    root /usr/share/nginx/html;\n    location / {\n        try_files $uri /index.html;\n    }\n")
    return "server {\n    listen 8080;\n    server_tokens off;\n" + health + body + "}\n"


def _config(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (ns, kind) in enumerate(zip(picks(rng, NAMESPACES, n), picks(rng, CONFIG_APPS, n), strict=True)):
        style, image, port, live, ready = kind
        app = CONFIG_NAMES[style][i // len(CONFIG_APPS) % 3]
        upstream, up_port = rng.choice(UPSTREAMS)
        retention = rng.choice(["12h", "24h", "3d"])
        replicas = 1 if style == "prometheus" else rng.choice([2, 3])
        size = SIZES[3] if style == "prometheus" else SIZES[rng.choice([0, 1])]
        cm_name = f"{app}-config"
        mounts = [{"name": "config", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
                  {"name": "tmp", "mountPath": "/tmp"}]
        volumes = [{"name": "config", "configMap": {"name": cm_name}}, tmp_volume()]
        args = None
        if style == "proxy":
            data = {"default.conf": _nginx_conf(style, upstream, up_port, ns)}
            asks = ([
                f"Run an nginx reverse proxy named {app} in namespace {ns} that forwards all traffic to the "
                f"{upstream} Service on port {up_port}. Keep the nginx server block in a ConfigMap and mount it "
                f"into the container; {replicas} replicas.",
                f"I want a thin proxy in front of http://{upstream}.{ns}.svc.cluster.local:{up_port}. Call it {app}, "
                f"run {replicas} unprivileged nginx pods, and ship default.conf through a ConfigMap volume.",
                f"Namespace {ns} needs an nginx-based gateway, {app}, whose only job is proxying to {upstream} "
                f"(port {up_port}). Config file from a ConfigMap please, not baked into the image.",
            ])
        elif style == "static":
            data = {"default.conf": _nginx_conf(style, upstream, up_port, ns),
                    "index.html": f"<!doctype html>\n<title>{app}</title>\n<h1>We'll be back shortly.</h1>\n"}
            mounts.insert(1, {"name": "config", "mountPath": "/usr/share/nginx/html/index.html",
                              "subPath": "index.html", "readOnly": True})
            asks = ([
                f"Serve a single static HTML page as {app} in the {ns} namespace: both the page and the nginx "
                f"config come from one ConfigMap, mounted read-only. Use nginx-unprivileged and {replicas} pods.",
                f"We need a \"be right back\" page for {ns} during maintenance windows. Put index.html and the "
                f"server block in a ConfigMap and run it as {app} with {replicas} replicas of {image}.",
                f"Put an HTML placeholder site online for {ns}: Deployment {app}, page content and nginx.conf "
                f"snippet supplied by a ConfigMap volume, {replicas} replicas, non-root container.",
            ])
        else:
            data = {"prometheus.yml": (f"global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: {upstream}\n"
                                       f"    static_configs:\n      - targets: [\"{upstream}.{ns}.svc:{up_port}\"]\n")}
            mounts = [{"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                      {"name": "data", "mountPath": "/prometheus"}]
            volumes = [{"name": "config", "configMap": {"name": cm_name}},
                       {"name": "data", "emptyDir": {"sizeLimit": "2Gi"}}]
            args = ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={retention}"]
            asks = ([
                f"Set up a small Prometheus ({image}) called {app} in {ns} whose prometheus.yml lives in a "
                f"ConfigMap. It should scrape {upstream}.{ns}.svc:{up_port} every 30 seconds and keep {retention} "
                "of data in an emptyDir.",
                f"For a dev namespace ({ns}) I want a throwaway Prometheus named {app}: scrape config from a "
                f"ConfigMap, one target ({upstream} on port {up_port}), {retention} retention, no persistent disk.",
                f"Mount a prometheus.yml from a ConfigMap into a single-replica Prometheus Deployment ({app}, "
                f"namespace {ns}) that scrapes the {upstream} service and retains metrics for {retention}.",
            ])
        sizing = f" Size the container at {size_text(size)}." if i % 3 == 2 else ""
        ask = seen.pick([a + sizing for a in asks], i)
        main = container(app, image, size, args=args, ports=[{"name": "http", "containerPort": port}],
                         livenessProbe=http_probe(live, "http", delay=10),
                         readinessProbe=http_probe(ready, "http", period=5),
                         volumeMounts=mounts)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm_name, "namespace": ns}, "data": data}
        code = to_yaml(cm, deployment(app, ns, replicas, pod_spec([main], volumes=volumes)))
        prose = ("The configuration is mounted from the ConfigMap as a read-only volume rather than baked into the "
                 "image, so it can change without a rebuild; restart the Deployment after editing it, because the "
                 "process reads the file only at start-up. ")
        prose += ("The container runs as a non-root UID with a read-only root filesystem and no capabilities, and "
                  "writable state goes to emptyDir volumes only." if style == "prometheus" else
                  "The unprivileged nginx image listens on 8080, so the pod needs no root user or "
                  "NET_BIND_SERVICE capability, and the /healthz location answers the probes without logging.")
        drafts.append(Draft(ask, prose, [fence(code)]))
    return drafts


# (app, image, port, probe port, liveness, readiness, plain env, secret env [(var, key)], min size index)
SECRET_APPS = [
    ("grafana", "grafana/grafana:11.3.1", 3000, "http", "/api/health", "/api/health",
     {"GF_DATABASE_TYPE": "postgres", "GF_DATABASE_HOST": "postgres.{ns}.svc:5432", "GF_DATABASE_USER": "grafana"},
     [("GF_SECURITY_ADMIN_PASSWORD", "admin-password"), ("GF_DATABASE_PASSWORD", "db-password")], 2),
    ("metabase", "metabase/metabase:v0.51.5", 3000, "http", "/api/health", "/api/health",
     {"MB_DB_TYPE": "postgres", "MB_DB_HOST": "postgres.{ns}.svc", "MB_DB_PORT": "5432", "MB_DB_USER": "metabase"},
     [("MB_DB_PASS", "db-password"), ("MB_ENCRYPTION_SECRET_KEY", "encryption-key")], 4),
    ("postgrest", "postgrest/postgrest:v12.2.3", 3000, 3001, "/live", "/ready",
     {"PGRST_DB_ANON_ROLE": "web_anon", "PGRST_ADMIN_SERVER_PORT": "3001"},
     [("PGRST_DB_URI", "db-uri"), ("PGRST_JWT_SECRET", "jwt-secret")], 0),
    ("miniflux", "miniflux/miniflux:2.2.3", 8080, "http", "/healthcheck", "/healthcheck",
     {"RUN_MIGRATIONS": "1", "LISTEN_ADDR": "0.0.0.0:8080"},
     [("DATABASE_URL", "database-url")], 0),
]
SECRET_TEMPLATES = [
    "Deploy {app} ({image}) in namespace {ns}. Its credentials are already stored in a Kubernetes Secret named "
    "`{secret}` (keys: {keys}); inject them as environment variables without putting any secret value in the YAML.",
    "Our {app} instance needs {vars} at runtime. The platform team syncs them into the Secret `{secret}` in {ns} from "
    "Vault. Write a Deployment with {count} that reads them via secretKeyRef.",
    "Write a Deployment for {image} in the {ns} namespace named {name}. Reference the existing Secret {secret} for "
    "{vars}, set the non-sensitive settings as plain env vars, and give it {sizes}.",
]


def _secret_env(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (spec, ns) in enumerate(zip(picks(rng, SECRET_APPS, n), picks(rng, NAMESPACES, n), strict=True)):
        app, image, port, probe_port, live, ready, plain, secrets, min_size = spec
        name = f"{app}-{rng.choice(['team', 'internal', 'ops', 'main', 'prod'])}" if i >= len(SECRET_APPS) else app
        secret = rng.choice([f"{name}-credentials", f"{name}-secrets", f"{app}-env"])
        size = SIZES[max(min_size, rng.choice([1, 2]))] if min_size < 4 else SIZES[4]
        replicas = rng.choice([1, 2])
        env = [{"name": k, "value": v.format(ns=ns)} for k, v in plain.items()]
        env += [env_from_secret(var, secret, key) for var, key in secrets]
        ports = [{"name": "http", "containerPort": port}]
        if probe_port != "http":
            ports.append({"name": "admin", "containerPort": probe_port})
        probe = "http" if probe_port == "http" else "admin"
        mounts = [{"name": "tmp", "mountPath": "/tmp"}]
        volumes = [tmp_volume()]
        if app in ("grafana", "metabase"):
            path = "/var/lib/grafana" if app == "grafana" else "/plugins"
            mounts.append({"name": "data", "mountPath": path})
            volumes.append({"name": "data", "emptyDir": {"sizeLimit": "1Gi"}})
        main = container(name, image, size, ports=ports, env=env,
                         livenessProbe=http_probe(live, probe, delay=30 if app == "metabase" else 10),
                         readinessProbe=http_probe(ready, probe, period=5), volumeMounts=mounts)
        code = to_yaml(deployment(name, ns, replicas, pod_spec([main], volumes=volumes)))
        keys = ", ".join(f"`{key}`" for _, key in secrets)
        variables = " and ".join(var for var, _ in secrets)
        instruction = seen.pick([t.format(app=app, image=image, ns=ns, secret=secret, keys=keys, vars=variables,
                                          replicas=replicas, count=f"{replicas} replica{'s' * (replicas > 1)}",
                                          name=name, sizes=size_text(size))
                                 for t in SECRET_TEMPLATES], i)
        prose = (f"No Secret manifest is included: `{secret}` is expected to exist already (created by External "
                 "Secrets, Sealed Secrets or your CI), so the repository never holds the values. "
                 f"Each sensitive variable ({variables}) is resolved with `valueFrom.secretKeyRef`, and a missing key "
                 "stops the pod from starting instead of running with an empty credential. "
                 "Everything else is plain configuration, and the pod keeps the usual non-root, read-only, "
                 "no-capabilities security context.")
        drafts.append(Draft(instruction, prose, [fence(code)]))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _web(rng, 11, seen) + _config(rng, 8, seen) + _secret_env(rng, 8, seen)
    return finalize(drafts, rng, "kubernetes")
