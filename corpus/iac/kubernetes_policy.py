"""Kubernetes examples: NetworkPolicies, TLS Ingress, least-privilege RBAC, namespaces with quotas and limits."""

import random

from corpus.iac._k8s import Distinct, Draft, fence, finalize, meta, picks, to_yaml

NAMESPACES = ["shop", "payments", "media", "identity", "search", "billing", "crm", "booking", "ledger", "chat",
              "maps", "tickets"]
APPS = [("storefront", 8080), ("orders-api", 9000), ("profile-web", 3000), ("booking-api", 8081),
        ("chat-gateway", 8000), ("maps-tiles", 8080), ("ledger-api", 5000), ("ticket-ui", 3000)]
# (engine, port, pod label value)
DATABASES = [("postgres", 5432, "postgres"), ("redis", 6379, "redis"), ("mysql", 3306, "mysql"),
             ("mongodb", 27017, "mongodb")]
INGRESS_NS = ["ingress-nginx", "traefik", "gateway-system"]
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def _np(name: str, ns: str, selector: dict, types: list[str], ingress: list | None = None,
        egress: list | None = None) -> dict:
    spec: dict = {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(name, ns), "spec": spec}


def _ns_sel(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


NETPOL_TEMPLATES = [
    "Lock down namespace {ns} with NetworkPolicies: deny all ingress and egress by default, allow DNS, let the "
    "{ingress_ns} controller reach {app} on port {port}, and let {app} talk to {db} on {db_port}.",
    "Write a zero-trust network setup for {ns}. {app} (port {port}) is the only public-facing workload, fronted by "
    "the ingress controller in {ingress_ns}; its only dependency is the {db} database on port {db_port}.{extra_ask}",
    "I want default-deny networking in {ns} plus the minimum allow rules for {app}: inbound from {ingress_ns} on "
    "{port}, outbound to {db}:{db_port} and kube-dns.{extra_ask}",
    "NetworkPolicy request for namespace {ns}: start from deny-all, then open {ingress_ns} -> {app}:{port} and "
    "{app} -> {db}:{db_port}. Pods must still resolve DNS.{extra_ask}",
]


def _netpol(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (ns, (app, port), db, ing) in enumerate(zip(picks(rng, NAMESPACES, n), picks(rng, APPS, n),
                                                       picks(rng, DATABASES, n), picks(rng, INGRESS_NS, n),
                                                       strict=True)):
        engine, db_port, db_label = db
        external = i % 3 == 1
        scrape = i % 3 == 2
        app_sel = {"app.kubernetes.io/name": app}
        docs = [
            _np("default-deny-all", ns, {}, ["Ingress", "Egress"]),
            _np("allow-dns-egress", ns, {}, ["Egress"], egress=[{
                "to": [{**_ns_sel("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]),
        ]
        sources = [_ns_sel(ing)]
        ingress_rules = [{"from": sources, "ports": [{"protocol": "TCP", "port": port}]}]
        if scrape:
            ingress_rules.append({"from": [_ns_sel("monitoring")], "ports": [{"protocol": "TCP", "port": 9090}]})
        docs.append(_np(f"{app}-ingress", ns, app_sel, ["Ingress"], ingress=ingress_rules))
        egress_rules = [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": db_label}}}],
                         "ports": [{"protocol": "TCP", "port": db_port}]}]
        if external:
            egress_rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE}}],
                                 "ports": [{"protocol": "TCP", "port": 443}]})
        docs.append(_np(f"{app}-egress", ns, app_sel, ["Egress"], egress=egress_rules))
        docs.append(_np(f"{db_label}-from-{app}", ns, {"app.kubernetes.io/name": db_label}, ["Ingress"], ingress=[{
            "from": [{"podSelector": {"matchLabels": app_sel}}], "ports": [{"protocol": "TCP", "port": db_port}]}]))
        extra_ask = (" It also calls third-party HTTPS APIs on the internet." if external else
                     " Prometheus in the monitoring namespace scrapes it on 9090." if scrape else "")
        fields = {"ns": ns, "app": app, "port": port, "db": engine, "db_port": db_port, "ingress_ns": ing,
                  "extra_ask": extra_ask}
        inp = ""
        if i in (3, 8):
            inp = (f"Namespace: {ns}\n1. Nothing in or out unless listed here.\n2. All pods may query kube-dns.\n"
                   f"3. {ing} -> {app} on TCP {port}.\n4. {app} -> {engine} (label app.kubernetes.io/name="
                   f"{db_label}) on TCP {db_port}.\n")
            if extra_ask:
                inp += f"5.{extra_ask}\n"
            instruction = seen.pick([f"Translate these traffic rules for the {ns} namespace into NetworkPolicy "
                                     "manifests.",
                                     f"Implement the {app} network requirements listed below as Kubernetes "
                                     "NetworkPolicies."], i)
        else:
            instruction = seen.pick([t.format(**fields) for t in NETPOL_TEMPLATES], i)
        prose = ("`default-deny-all` selects every pod for both directions, so anything not explicitly allowed below "
                 "is dropped, and DNS egress to kube-dns is reopened for the whole namespace. "
                 f"{app} accepts traffic only from the {ing} namespace on {port}, and {engine} accepts only {app}, "
                 "with matching egress rules on both sides because each direction is enforced separately.")
        if external:
            prose += " Outbound HTTPS is allowed to public addresses only; the private ranges are excluded."
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))], input=inp))
    return drafts


DOMAINS = ["example.com", "shop.example.org", "acme.io", "contoso.net", "example.dev"]
INGRESS_TEMPLATES = [
    "Expose {svc} (port {svc_port}) in namespace {ns} at https://{host} with an Ingress using the {cls} ingress "
    "class and a certificate issued by cert-manager's {issuer} ClusterIssuer.",
    "Create a networking.k8s.io/v1 Ingress for {host} in {ns}: TLS from cert-manager ({issuer}), class {cls}, "
    "{routes}.",
    "We need HTTPS for {host}. Route {routes} (namespace {ns}), terminate TLS at the {cls} controller, and store "
    "the certificate in Secret {secret}.",
    "Write an Ingress with TLS for {host} and {alt}: class {cls}, issuer {issuer}, everything to {svc}:{svc_port} "
    "in {ns}, and force HTTP to redirect to HTTPS.",
]


def _ingress(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (ns, (svc, svc_port), domain) in enumerate(zip(picks(rng, NAMESPACES, n), picks(rng, APPS, n),
                                                          picks(rng, DOMAINS, n), strict=True)):
        cls = rng.choice(["nginx", "traefik", "nginx"])
        issuer = rng.choice(["letsencrypt-prod", "letsencrypt-staging", "internal-ca"])
        host = f"{rng.choice(['app', 'www', 'portal', 'api', 'shop'])}.{domain}"
        alt = f"{rng.choice(['beta', 'eu', 'm'])}.{domain}"
        secret = f"{host.replace('.', '-')}-tls"
        split = i % 4 in (1, 2)
        hosts = [host, alt] if i % 4 == 3 else [host]
        paths = [{"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": svc, "port": {"number": svc_port}}}}]
        routes = f"/ to {svc}:{svc_port}"
        if split:
            api = f"{svc.split('-')[0]}-backend"
            paths.insert(0, {"path": "/api", "pathType": "Prefix",
                             "backend": {"service": {"name": api, "port": {"number": 8080}}}})
            routes = f"/api to {api}:8080 and everything else to {svc}:{svc_port}"
        annotations = {"cert-manager.io/cluster-issuer": issuer}
        if cls == "nginx":
            annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true"
            annotations["nginx.ingress.kubernetes.io/proxy-body-size"] = rng.choice(["1m", "8m", "25m"])
        else:
            annotations["traefik.ingress.kubernetes.io/router.entrypoints"] = "websecure"
        doc = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {**meta(svc, ns), "annotations": annotations},
               "spec": {"ingressClassName": cls, "tls": [{"hosts": hosts, "secretName": secret}],
                        "rules": [{"host": h, "http": {"paths": paths}} for h in hosts]}}
        fields = {"svc": svc, "svc_port": svc_port, "ns": ns, "host": host, "alt": alt, "cls": cls,
                  "issuer": issuer, "routes": routes, "secret": secret}
        instruction = seen.pick([t.format(**fields) for t in INGRESS_TEMPLATES], i)
        prose = (f"`ingressClassName: {cls}` replaces the deprecated class annotation, and the cert-manager "
                 f"annotation makes the {issuer} ClusterIssuer issue and renew the certificate into `{secret}`, so "
                 "no key material lives in the manifest. ")
        prose += ("The nginx annotations redirect plain HTTP to HTTPS and cap the request body size." if cls == "nginx"
                  else "Binding the router to Traefik's websecure entrypoint keeps the host off plain HTTP.")
        if split:
            prose += " Longer prefixes win, so /api goes to the backend and everything else to the frontend."
        drafts.append(Draft(instruction, prose, [fence(to_yaml(doc))]))
    return drafts


# (scenario, service account, rules, what it does)
RBAC_CASES = [
    ("config-reloader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
     "watches ConfigMaps in its namespace and reloads the app when they change"),
    ("leader-election", [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["{app}-leader"],
         "verbs": ["get", "update"]}],
     "uses a Lease named {app}-leader for leader election"),
    ("deployer", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]},
                  {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list"]}],
     "is a CI deploy bot that updates image tags on Deployments and checks rollout status"),
    ("job-runner", [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch",
                                                                             "delete"]},
                    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}],
     "launches Jobs, follows their pods' logs and deletes finished Jobs"),
    ("secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["{app}-tls"],
                        "verbs": ["get", "watch"]}],
     "reads exactly one Secret, {app}-tls, to hot-reload its certificate"),
]
RBAC_TEMPLATES = [
    "Create a ServiceAccount, Role and RoleBinding for {app} in namespace {ns}. The app {does}. Grant nothing "
    "beyond that.",
    "Least-privilege RBAC please: {app} ({ns}) {does}. Namespace-scoped only, no ClusterRole.",
    "Write the RBAC objects that let the {app} service account in {ns} do its job: it {does}.",
]


def _rbac(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    apps = ["relay", "scheduler", "syncer", "gatekeeper", "builder", "notifier", "indexer", "watcher"]
    for i, (case, ns, app) in enumerate(zip(picks(rng, RBAC_CASES, n), picks(rng, NAMESPACES, n),
                                            picks(rng, apps, n), strict=True)):
        scenario, rules, does = case
        name = f"{app}-{scenario}" if scenario not in app else app
        rules = [{k: ([x.replace("{app}", app) for x in v] if k == "resourceNames" else v) for k, v in r.items()}
                 for r in rules]
        does = does.replace("{app}", app)
        labels = {"app.kubernetes.io/name": app}
        docs = [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns, labels)},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(name, ns, labels),
             "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(name, ns, labels),
             "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}},
        ]
        inp = ""
        if i == 4:
            inp = to_yaml({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(name, ns),
                           "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
            instruction = (f"This Role for {app} is far too broad; all the workload does is this: it {does}. Replace "
                           "it with a least-privilege Role, and add the ServiceAccount and RoleBinding.")
        else:
            instruction = seen.pick([t.format(app=app, ns=ns, does=does) for t in RBAC_TEMPLATES], i)
        restricted = any("resourceNames" in r for r in rules)
        prose = (f"A namespaced Role limits {name} to {ns}, and the verbs cover only what the workload {does}. ")
        prose += ("`resourceNames` narrows access to the single named object; `create` stays in its own rule "
                  "because it can't be restricted by name." if restricted and scenario == "leader-election" else
                  "`resourceNames` narrows access to the single named object." if restricted else
                  "There are no wildcards, no Secret access and no ability to create pods or exec into them.")
        prose += " Set `serviceAccountName` on the pod to use it."
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))], input=inp))
    return drafts


TEAMS = [("team-checkout", "checkout"), ("team-data", "data-eng"), ("team-search", "search"),
         ("team-mobile", "mobile"), ("team-risk", "risk"), ("team-growth", "growth"), ("team-ml", "ml-platform"),
         ("team-infra", "infra")]
# (requests cpu, requests memory, limits cpu, limits memory, pods, pvcs, total storage, largest single claim)
QUOTAS = [("4", "8Gi", "8", "16Gi", 40, 10, "100Gi", "20Gi"), ("8", "16Gi", "16", "32Gi", 80, 20, "250Gi", "50Gi"),
          ("2", "4Gi", "4", "8Gi", 20, 5, "50Gi", "20Gi"), ("16", "64Gi", "32", "128Gi", 150, 30, "1Ti", "200Gi")]
NS_TEMPLATES = [
    "Create namespace {ns} for {team} with a ResourceQuota (requests {rcpu} CPU / {rmem}, limits {lcpu} CPU / "
    "{lmem}, {pods} pods, {pvcs} PVCs, {storage} storage) and a LimitRange with sensible container defaults.",
    "Onboard a new team: namespace {ns}, label team={team}, Pod Security 'restricted' enforced, quota of {pods} "
    "pods and {rcpu} requested CPU, no LoadBalancer or NodePort Services, and default requests/limits for "
    "containers that don't declare any.",
    "Write a Namespace + ResourceQuota + LimitRange for {ns}. Cap memory requests at {rmem} and limits at {lmem}, "
    "storage at {storage}, and stop any single container from asking for more than {max_cpu} CPU.",
    "{team} needs a sandbox on the shared cluster. Give them namespace {ns} with hard limits ({lcpu} CPU and "
    "{lmem} memory in limits, {pvcs} volume claims) and defaults so pods without resources still schedule.",
    "Multi-tenant cluster: create {ns} (owner {team}) so that the team can't exceed {pods} pods or {storage} of "
    "disk, can't open external load balancers, and must meet the restricted pod security level.",
]


def _namespace(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, ((team, ns), quota) in enumerate(zip(picks(rng, TEAMS, n), picks(rng, QUOTAS, n), strict=True)):
        rcpu, rmem, lcpu, lmem, pods, pvcs, storage, max_claim = quota
        max_cpu, max_mem = ("2", "4Gi") if rcpu in ("2", "4") else ("4", "8Gi")
        labels = {"team": team, "pod-security.kubernetes.io/enforce": "restricted",
                  "pod-security.kubernetes.io/enforce-version": "v1.31"}
        docs = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}},
            {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta(f"{ns}-quota", ns),
             "spec": {"hard": {"requests.cpu": rcpu, "requests.memory": rmem, "limits.cpu": lcpu,
                               "limits.memory": lmem, "pods": str(pods), "persistentvolumeclaims": str(pvcs),
                               "requests.storage": storage, "services.loadbalancers": "0",
                               "services.nodeports": "0"}}},
            {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta(f"{ns}-limits", ns),
             "spec": {"limits": [
                 {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
                  "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                  "max": {"cpu": max_cpu, "memory": max_mem}},
                 {"type": "PersistentVolumeClaim", "max": {"storage": max_claim}}]}},
        ]
        fields = {"ns": ns, "team": team, "rcpu": rcpu, "rmem": rmem, "lcpu": lcpu, "lmem": lmem, "pods": pods,
                  "pvcs": pvcs, "storage": storage, "max_cpu": max_cpu}
        inp = ""
        if i in (2, 6):
            inp = (f"namespace: {ns}\nowner: {team}\npod security: restricted\nquota:\n  cpu: {rcpu} requested / "
                   f"{lcpu} limit\n  memory: {rmem} requested / {lmem} limit\n  pods: {pods}\n  pvcs: {pvcs} "
                   f"({storage} total)\n  load balancers: none\nper-container max: {max_cpu} CPU, {max_mem}\n")
            instruction = seen.pick([f"Set up the {ns} namespace exactly as this onboarding request describes.",
                                     f"{team} filed the namespace request below. Turn it into Kubernetes manifests."],
                                    i)
        else:
            instruction = seen.pick([t.format(**fields) for t in NS_TEMPLATES], i)
        prose = ("The namespace enforces the restricted Pod Security Standard, so privileged or root pods are "
                 f"rejected at admission. The ResourceQuota caps {team}'s total CPU, memory, pods and storage and "
                 "forbids LoadBalancer and NodePort Services, which would bypass the shared ingress. "
                 "Because a quota on requests and limits rejects pods that omit them, the LimitRange supplies "
                 "defaults and caps any single container.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))], input=inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _netpol(rng, 10, seen) + _ingress(rng, 9, seen) + _rbac(rng, 8, seen) + _namespace(rng, 8, seen)
    return finalize(drafts, rng, "kubernetes")
