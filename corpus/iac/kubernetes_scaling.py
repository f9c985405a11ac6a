"""Kubernetes examples: HorizontalPodAutoscalers, PodDisruptionBudgets, and hardening an existing Deployment."""

import random

from corpus.iac._k8s import (
    SIZES,
    Distinct,
    Draft,
    container,
    deployment,
    env_from_secret,
    fence,
    finalize,
    http_probe,
    meta,
    picks,
    pod_spec,
    tmp_volume,
    to_yaml,
)

NAMESPACES = ["shop", "payments", "media", "api", "identity", "search", "checkout", "ads", "streaming", "web"]
WORKLOADS = ["checkout-api", "cart-service", "image-resizer", "graphql-gateway", "auth-service", "search-api",
             "pricing-engine", "feed-builder", "video-transcoder", "web-frontend"]


def _hpa(name: str, ns: str, low: int, high: int, cpu: int, memory: int | None, rps: int | None,
         down_window: int) -> dict:
    metrics: list[dict] = [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]
    if memory:
        metrics.append({"type": "Resource", "resource": {
            "name": "memory", "target": {"type": "Utilization", "averageUtilization": memory}}})
    if rps:
        metrics.append({"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                                  "target": {"type": "AverageValue", "averageValue": str(rps)}}})
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(name, ns),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low, "maxReplicas": high, "metrics": metrics,
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}]},
                "scaleDown": {"stabilizationWindowSeconds": down_window,
                              "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            },
        },
    }


HPA_TEMPLATES = [
    "Autoscale the {name} Deployment in {ns} between {low} and {high} replicas, targeting {cpu}% average CPU "
    "utilization. Scale down slowly ({window}s stabilization), scale up fast.",
    "Write an autoscaling/v2 HPA for deployment/{name} (namespace {ns}): min {low}, max {high}, CPU at {cpu}%{extra}.",
    "{name} gets bursty traffic. Give it a HorizontalPodAutoscaler in {ns} that can double capacity every minute "
    "up to {high} pods, never goes below {low}, and waits {window} seconds before removing pods.",
    "Please add horizontal autoscaling to {ns}/{name}: {low}-{high} replicas{extra}; CPU target {cpu}%.",
]


def _hpas(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (name, ns) in enumerate(zip(picks(rng, WORKLOADS, n), picks(rng, NAMESPACES, n), strict=True)):
        low, high = rng.choice([(2, 10), (3, 12), (2, 8), (4, 20), (3, 30)])
        cpu, window = rng.choice([60, 65, 70, 75, 80]), rng.choice([120, 300, 600])
        memory = rng.choice([75, 80]) if i % 3 == 1 else None
        rps = rng.choice([50, 100, 200]) if i % 4 == 2 else None
        extra = ""
        if memory:
            extra += f", plus memory at {memory}%"
        if rps:
            extra += f", plus {rps} requests per second per pod from the http_requests_per_second metric"
        instruction = seen.pick([t.format(name=name, ns=ns, low=low, high=high, cpu=cpu, window=window, extra=extra)
                                 for t in HPA_TEMPLATES], i)
        prose = (f"The HPA keeps {name} between {low} and {high} replicas and scales on whichever metric asks for the "
                 "most pods. Scale-up may double the replica count each minute with no stabilization, while "
                 f"scale-down waits {window} seconds and then removes one pod per minute, so short dips don't cause "
                 "flapping. ")
        prose += ("The requests-per-second metric needs a custom metrics adapter such as prometheus-adapter to serve "
                  "http_requests_per_second." if rps else
                  "CPU utilization is measured against the containers' CPU requests, which must be set.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(_hpa(name, ns, low, high, cpu, memory, rps, window)))]))
    return drafts


PDB_TEMPLATES = [
    ["Create a PodDisruptionBudget so node drains never take {name} in {ns} below {budget}.",
     "Keep at least {budget} of {name} running whenever nodes in the cluster are drained ({ns} namespace)."],
    ["During cluster upgrades, {name} ({ns}) keeps losing too many pods at once. Write a PDB that allows at most "
     "{budget} to be voluntarily evicted at a time, and that doesn't block drains when pods are already unhealthy.",
     "Limit voluntary evictions of {ns}/{name} to {budget} at a time with a disruption budget."],
    ["PDBs for two workloads in namespace {ns}: {name} ({budget}) and {other} ({other_budget}).",
     "Write disruption budgets for {name} and {other} in {ns}; use {budget} for the first and {other_budget} "
     "for the second."],
    ["I run a {size}-member quorum service, {name}, in {ns}. Protect it from voluntary disruptions so it never loses "
     "quorum during node maintenance.",
     "{name} in {ns} is a {size}-node consensus cluster; write the PDB that keeps a majority alive through drains."],
]


QUORUM_NAMES = ["etcd-events", "zookeeper", "consul-server"]


def _pdb(name: str, ns: str, key: str, value: int | str) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(name, ns),
            "spec": {key: value, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                     "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}}


def _pdbs(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (name, ns) in enumerate(zip(picks(rng, WORKLOADS, n), picks(rng, NAMESPACES, n), strict=True)):
        kind = i % len(PDB_TEMPLATES)
        other = WORKLOADS[(WORKLOADS.index(name) + 3) % len(WORKLOADS)]
        min_avail = rng.choice([1, 2, "50%", "75%"])
        max_unavail = rng.choice([1, "25%", "20%"])
        size = rng.choice([3, 5])
        if kind == 3:
            name = QUORUM_NAMES[i // len(PDB_TEMPLATES) % len(QUORUM_NAMES)]
            docs = [_pdb(name, ns, "maxUnavailable", 1)]
            budget = "one member"
            prose = (f"With {size} members, quorum needs {size // 2 + 1}; `maxUnavailable: 1` lets drains proceed one "
                     "pod at a time while always leaving a majority running.")
        elif kind == 2:
            docs = [_pdb(name, ns, "minAvailable", min_avail), _pdb(other, ns, "maxUnavailable", max_unavail)]
            budget = f"minAvailable {min_avail}"
            prose = (f"{name} is protected by a minimum-available count and {other} by a maximum-unavailable one; "
                     "the latter keeps working as the Deployment scales because the allowance scales with it.")
        elif kind == 1:
            docs = [_pdb(name, ns, "maxUnavailable", max_unavail)]
            budget = str(max_unavail) + (" of the pods" if isinstance(max_unavail, str) else " pod")
            prose = (f"`maxUnavailable: {max_unavail}` caps how many {name} pods the eviction API will remove at once, "
                     "and that allowance grows with the replica count.")
        else:
            docs = [_pdb(name, ns, "minAvailable", min_avail)]
            budget = (f"{min_avail} of its pods" if isinstance(min_avail, str) else
                      f"{min_avail} available pod{'s' if min_avail != 1 else ''}")
            prose = (f"`minAvailable: {min_avail}` makes the eviction API refuse any voluntary disruption, such as a "
                     f"node drain, that would leave fewer {name} pods running.")
        prose += (" `unhealthyPodEvictionPolicy: AlwaysAllow` lets already-crashing pods be evicted, so a broken "
                  "rollout can never wedge a node drain. The selector must match the workload's pod labels.")
        instruction = seen.pick([t.format(name=name, ns=ns, budget=budget, other=other, size=size,
                                          other_budget=f"maxUnavailable {max_unavail}")
                                 for t in PDB_TEMPLATES[kind]], i // len(PDB_TEMPLATES))
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))]))
    return drafts


# (image, port, health path)
HARDEN_IMAGES = [("ghcr.io/stefanprodan/podinfo", "6.7.1", 9898, "/healthz"),
                 ("traefik/whoami", "v1.10.3", 80, "/health"),
                 ("mccutchen/go-httpbin", "v2.15.0", 8080, "/status/200"),
                 ("nginxinc/nginx-unprivileged", "1.27.3-alpine", 8080, "/")]
HARDEN_TEMPLATES = [
    "Harden this Deployment for production: pin the image to {tag}, add resource requests and limits, probes, "
    "and a restrictive security context. Keep the app behaviour the same.",
    "checkov and kube-score complain about the manifest below. Fix what they're right about: non-root, no "
    "privilege escalation, read-only root fs, resources, probes, pinned tag ({tag}), and the plaintext password.",
    "Review this manifest and rewrite it the way you'd ship it to a shared production cluster (namespace {ns}). "
    "Use image tag {tag}.",
    "Make this Deployment pass a restricted Pod Security Standard and stop leaking the credential in env. "
    "Target namespace: {ns}; pin to {tag}.",
    "Our security review flagged this YAML. Rewrite it with pinned tag {tag}, least privilege, limits and health "
    "checks, and move the secret value into a Secret reference.",
]


def _naive(name: str, image: str, port: int, secret_value: str) -> str:
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                        "name": name, "image": f"{image}:latest", "ports": [{"containerPort": port}],
                        "env": [{"name": "API_TOKEN", "value": secret_value}],
                        "securityContext": {"privileged": True}}]}}}}
    return to_yaml(doc)


def _harden(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (name, ns, img) in enumerate(zip(picks(rng, WORKLOADS, n), picks(rng, NAMESPACES, n),
                                            picks(rng, HARDEN_IMAGES, n), strict=True)):
        image, tag, port, health = img
        if image == "traefik/whoami":
            port = 8080  # the hardened pod can't bind 80 without NET_BIND_SERVICE, so move the listener
        replicas = 2
        naive = _naive(name, image, img[2], rng.choice(["changeme", "s3cr3t-token", "dev-token-123"]))
        secret = f"{name}-api"
        main = container(name, f"{image}:{tag}", SIZES[rng.choice([1, 2])],
                         args=["--port", "8080"] if image == "traefik/whoami" else None,
                         ports=[{"name": "http", "containerPort": port}],
                         env=[env_from_secret("API_TOKEN", secret, "token")],
                         livenessProbe=http_probe(health, "http", delay=10), readinessProbe=http_probe(health, "http"),
                         volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])
        # a Deployment's selector is immutable, so the hardened version keeps the original label
        labels = {"app": name} if i < 5 else None
        dep = deployment(name, ns, replicas, pod_spec([main], volumes=[tmp_volume()]), labels=labels)
        docs = [dep]
        if i >= 5:
            # HPA + PDB requests reuse the hardened Deployment as their input
            low, high = rng.choice([(2, 6), (3, 10)])
            instruction = seen.pick([
                f"Add a HorizontalPodAutoscaler ({low}-{high} replicas, 70% CPU) and a PodDisruptionBudget that "
                "keeps at least one pod up, for the Deployment in the input.",
                f"Here's a Deployment. Make it scale from {low} to {high} pods on CPU and survive node drains.",
            ], i)
            naive = to_yaml(dep)
            docs = [_hpa(name, ns, low, high, 70, None, None, 300), _pdb(name, ns, "minAvailable", 1)]
            prose = (f"The HPA targets the existing Deployment by name and keeps it between {low} and {high} "
                     "replicas at 70% of the CPU request, scaling down one pod per minute after a 300-second window. "
                     "The PDB keeps one pod running through voluntary disruptions and matches the Deployment's "
                     "`app.kubernetes.io/name` label.")
        else:
            instruction = seen.pick([t.format(tag=tag, ns=ns) for t in HARDEN_TEMPLATES], i)
            prose = (f"The image is pinned to {tag} instead of `latest`, the container is no longer privileged, and "
                     "it runs as UID 10001 with a read-only root filesystem, no capabilities and RuntimeDefault "
                     f"seccomp. The plaintext token now comes from the Secret `{secret}` through secretKeyRef, so "
                     "create that Secret out of band (for example with External Secrets) and rotate the leaked value. "
                     "Requests, limits, probes and an explicit namespace were added, while the `app` selector label "
                     "stays as it was because a Deployment's selector is immutable.")
            if image == "traefik/whoami":
                prose += (" whoami now listens on 8080 via `--port`, since a non-root process may not bind port 80, "
                          "so point the Service's targetPort there.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(*docs))], input=naive))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _hpas(rng, 8, seen) + _pdbs(rng, 7, seen) + _harden(rng, 7, seen)
    return finalize(drafts, rng, "kubernetes")
