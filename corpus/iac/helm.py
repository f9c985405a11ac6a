"""Helm examples: a web Deployment + Service chart, and the same chart with an optional TLS Ingress."""

import random

from corpus.iac._helm import (
    chart_file,
    deployment,
    file_block,
    image_values,
    metadata,
    probe_values,
    service,
    sized,
)
from corpus.iac._k8s import (
    SIZES,
    WEB_IMAGES,
    Distinct,
    Draft,
    container,
    finalize,
    http_probe,
    picks,
    pod_spec,
    probe_text,
    size_text,
    tmp_volume,
    to_yaml,
)
from corpus.iac._k8s import deployment as k8s_deployment
from corpus.iac._k8s import service as k8s_service

APP_NAMES = ["quotes-api", "tenant-portal", "landing-web", "partner-api", "static-docs", "signup-web",
             "review-app", "pricing-ui", "careers-site", "inventory-web", "kiosk-frontend", "status-api"]
NAMESPACES = ["web", "apps", "demo", "frontend", "sandbox", "public", "services", "team-a"]


def _writes_tmp(image: str) -> bool:
    """nginx keeps its pid file and buffers under /tmp; the Go servers write nothing to disk."""
    return "nginx" in image


def _web_values(image: str, port: int, live: str, ready: str, args: list | None, replicas: int, svc: int,
                size: tuple[str, str, str, str]) -> dict:
    values: dict = {"replicaCount": replicas, "image": image_values(image)}
    if args:
        values["args"] = args
    values.update({"containerPort": port, "service": {"port": svc}, **probe_values(live, ready), **sized(size)})
    return values


WEB_TEMPLATES = [
    "Write a Helm chart called {chart} that deploys {image} as a Deployment and a ClusterIP Service (port {svc} to "
    "container port {port}), {replicas} replicas by default.",
    "Create a small Helm chart for {chart}: Chart.yaml, values.yaml, and templates for the Deployment and Service. "
    "Image {image}, {probes}, Service on port {svc}.",
    "I'd like to package {image} as a Helm chart named {chart} (chart version {version}). Everything tunable "
    "(replicas, image, probe paths, resources) belongs in values.yaml.",
    "Helm chart please: app {chart}, deployed into the release namespace, {replicas} replicas, container port "
    "{port}, non-root pods, and {sizes}.",
]


def _web(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (chart, img, size, ns) in enumerate(zip(picks(rng, APP_NAMES[:6], n), picks(rng, WEB_IMAGES, n),
                                                   picks(rng, SIZES[:4], n), picks(rng, NAMESPACES, n), strict=True)):
        image, port, live, ready, args = img
        if i >= len(APP_NAMES[:6]):
            chart = APP_NAMES[6 + i % 6]
        replicas, svc = rng.choice([2, 3, 4]), rng.choice([80, 8080])
        version = rng.choice(["0.1.0", "1.0.0", "0.3.2"])
        values = _web_values(image, port, live, ready, args, replicas, svc, size)
        tag = image.rsplit(":", 1)[1]
        blocks = [chart_file(chart, f"{chart} HTTP service", tag, version), file_block("values.yaml", to_yaml(values)),
                  file_block("templates/deployment.yaml", deployment(args=bool(args), tmp=_writes_tmp(image))),
                  file_block("templates/service.yaml", service())]
        inp = ""
        if i % 4 == 3:
            main = container(chart, image, size, args=args, ports=[{"name": "http", "containerPort": port}],
                             livenessProbe=http_probe(live, "http", delay=10),
                             readinessProbe=http_probe(ready, "http", period=5),
                             volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])
            inp = to_yaml(k8s_deployment(chart, ns, replicas, pod_spec([main], volumes=[tmp_volume()])),
                          k8s_service(chart, ns, svc))
            instruction = seen.pick([
                f"Turn these plain manifests into a Helm chart named {chart}, with the image, replica count, "
                "probe paths and resources moved into values.yaml.",
                f"We deploy {chart} with the raw YAML below. Convert it into a reusable Helm chart whose namespace "
                "comes from the release.",
            ], i)
        else:
            instruction = seen.pick([t.format(chart=chart, image=image, svc=svc, port=port, replicas=replicas,
                                              probes=probe_text(live, ready), version=version,
                                              sizes=size_text(size))
                                     for t in WEB_TEMPLATES], i)
        prose = (f"Every tunable lives in values.yaml, and the image is pinned to {tag}, the same as the chart's "
                 "appVersion, so a release always runs a known build. "
                 "The non-root, read-only, no-capabilities security contexts are written into the template rather "
                 "than values, so no override can switch them off, while resources and probes are tunable. "
                 f"Install it with `helm install {chart} ./{chart} -n {ns} --create-namespace`.")
        drafts.append(Draft(instruction, prose, blocks, input=inp))
    return drafts


def _ingress_template() -> str:
    return ("{{- if .Values.ingress.enabled }}\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"
            + metadata(labelled=False)
            + "  annotations:\n    {{- toYaml .Values.ingress.annotations | nindent 4 }}\nspec:\n"
            "  ingressClassName: {{ .Values.ingress.className }}\n  tls:\n    - hosts:\n"
            "        - {{ .Values.ingress.host | quote }}\n      secretName: {{ .Values.ingress.tlsSecretName }}\n"
            "  rules:\n    - host: {{ .Values.ingress.host | quote }}\n      http:\n        paths:\n"
            "          - path: /\n            pathType: Prefix\n            backend:\n              service:\n"
            "                name: {{ .Release.Name }}\n"
            "                port:\n                  name: http\n{{- end }}\n")


DOMAINS = ["example.com", "example.org", "acme.dev", "contoso.io", "example.net"]
INGRESS_TEMPLATES = [
    "Create a Helm chart for {chart} ({image}) with a Deployment, Service and an Ingress that is only rendered "
    "when ingress.enabled is true. Default host {host}, class {cls}, TLS via cert-manager ({issuer}).",
    "Package {chart} as a Helm chart where exposing it publicly is opt-in: `--set ingress.enabled=true` should add "
    "a TLS Ingress for {host} using the {cls} controller.",
    "Write a chart ({chart}, image {image}, {replicas} replicas) whose Ingress is optional and configurable: "
    "className, host, annotations and the TLS secret name all come from values. Disabled by default.",
    "Helm chart with an optional Ingress for {chart}: ingressClassName {cls}, certificate from the {issuer} "
    "ClusterIssuer stored in {secret}, Service port {svc}.",
]


def _ingress(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    no_args = [img for img in WEB_IMAGES if not img[4]]
    for i, (chart, img, domain) in enumerate(zip(picks(rng, APP_NAMES[6:], n), picks(rng, no_args, n),
                                                 picks(rng, DOMAINS, n), strict=True)):
        image, port, live, ready, args = img
        if i >= 6:
            chart = APP_NAMES[i % 6]
        cls, issuer = rng.choice(["nginx", "traefik"]), rng.choice(["letsencrypt-prod", "letsencrypt-staging"])
        host = f"{chart.split('-')[0]}.{domain}"
        secret = f"{chart}-tls"
        replicas, svc = rng.choice([2, 3]), 80
        size = SIZES[rng.choice([0, 1, 2])]
        values = _web_values(image, port, live, ready, args, replicas, svc, size)
        values["ingress"] = {"enabled": False, "className": cls,
                             "annotations": {"cert-manager.io/cluster-issuer": issuer},
                             "host": host, "tlsSecretName": secret}
        tag = image.rsplit(":", 1)[1]
        blocks = [chart_file(chart, f"{chart} with optional ingress", tag),
                  file_block("values.yaml", to_yaml(values)),
                  file_block("templates/deployment.yaml", deployment(args=bool(args), tmp=_writes_tmp(image))),
                  file_block("templates/service.yaml", service(labelled=False)),
                  file_block("templates/ingress.yaml", _ingress_template())]
        instruction = seen.pick([t.format(chart=chart, image=image, host=host, cls=cls, issuer=issuer,
                                          replicas=replicas, secret=secret, svc=svc) for t in INGRESS_TEMPLATES], i)
        prose = ("The Ingress renders only when `ingress.enabled` is true, so a default install stays internal. "
                 f"It uses `ingressClassName: {cls}` and TLS with a certificate that cert-manager issues into "
                 f"`{secret}`, so the chart holds no key material.")
        drafts.append(Draft(instruction, prose, blocks))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _web(rng, 10, seen) + _ingress(rng, 10, seen)
    return finalize(drafts, rng, "helm")
