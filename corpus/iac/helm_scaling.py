"""Helm examples: a chart with an optional HorizontalPodAutoscaler, and a queue worker whose pods roll when
its ConfigMap changes (checksum annotation)."""

import random

from corpus.iac._helm import chart_file, deployment, file_block, image_values, metadata, probe_values, service, sized
from corpus.iac._k8s import (
    SIZES,
    WEB_IMAGES,
    Distinct,
    Draft,
    container,
    finalize,
    http_probe,
    picks,
    plural,
    pod_spec,
    to_yaml,
)
from corpus.iac._k8s import deployment as k8s_deployment

HPA_NAMES = ["search-api", "cart-api", "render-service", "feed-api", "thumbnail-api", "quote-engine", "geo-api",
             "coupon-service", "ranking-api", "auth-gateway"]

HPA_TEMPLATE = (
    "{{- if .Values.autoscaling.enabled }}\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
    + metadata(labelled=False)
    + "spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {{ .Release.Name }}\n"
    "  minReplicas: {{ .Values.autoscaling.minReplicas }}\n  maxReplicas: {{ .Values.autoscaling.maxReplicas }}\n"
    "  metrics:\n    {{- toYaml .Values.autoscaling.metrics | nindent 4 }}\n"
    "  behavior:\n    {{- toYaml .Values.autoscaling.behavior | nindent 4 }}\n{{- end }}\n"
)


def _utilization(resource: str, percent: int) -> dict:
    return {"type": "Resource",
            "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}}}


HPA_TEMPLATES = [
    "Write a Helm chart for {chart} ({image}) with a Deployment, Service and an autoscaling/v2 HPA: {low} to {high} "
    "replicas at {cpu}% CPU{mem_text}.",
    "Create a chart where autoscaling can be toggled: with autoscaling.enabled the HPA owns the replica count "
    "({low}-{high}, CPU target {cpu}%), without it the chart uses replicaCount. App {chart}, image {image}.",
    "Helm chart for {chart} that scales horizontally between {low} and {high} pods{mem_text}; scale-down should "
    "wait {window} seconds. Include the Service.",
    "Package {image} as {chart}: Deployment + ClusterIP Service + HorizontalPodAutoscaler (min {low}, max {high}, "
    "CPU {cpu}%), with every threshold in values.yaml.",
]


def _hpa_charts(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    # Go servers that need neither args nor a writable /tmp keep the chart short
    images = [img for img in WEB_IMAGES if not img[4] and "nginx" not in img[0]]
    for i, (chart, img, size) in enumerate(zip(picks(rng, HPA_NAMES, n), picks(rng, images, n),
                                               picks(rng, SIZES[1:4], n), strict=True)):
        image, port, live, ready, _ = img
        low, high = rng.choice([(2, 10), (3, 15), (2, 6), (4, 24)])
        cpu, window = rng.choice([60, 70, 75, 80]), rng.choice([120, 300, 600])
        memory = rng.choice([75, 80]) if i % 2 else None
        metrics = [_utilization("cpu", cpu)] + ([_utilization("memory", memory)] if memory else [])
        autoscaling = {"enabled": True, "minReplicas": low, "maxReplicas": high, "metrics": metrics,
                       "behavior": {"scaleDown": {"stabilizationWindowSeconds": window}}}
        values = {"# used only when autoscaling is disabled": None, "replicaCount": low,
                  "image": image_values(image), "containerPort": port, "service": {"port": 80},
                  **probe_values(live, ready), **sized(size), "autoscaling": autoscaling}
        tag = image.rsplit(":", 1)[1]
        blocks = [chart_file(chart, f"{chart} with horizontal autoscaling", tag),
                  file_block("values.yaml", to_yaml(values)),
                  file_block("templates/deployment.yaml", deployment(hpa=True)),
                  file_block("templates/service.yaml", service(labelled=False)),
                  file_block("templates/hpa.yaml", HPA_TEMPLATE)]
        mem_text = f" and {memory}% memory" if memory else ""
        inp = ""
        if i == 4:
            main = container(chart, image, size, ports=[{"name": "http", "containerPort": port}],
                             livenessProbe=http_probe(live, "http", delay=10), readinessProbe=http_probe(ready, "http"))
            inp = to_yaml(k8s_deployment(chart, "default", low, pod_spec([main])))
            instruction = (f"Convert this Deployment into a Helm chart that adds a Service and a "
                           f"HorizontalPodAutoscaler ({low}-{high} replicas, {cpu}% CPU). The namespace should come "
                           "from the release, not be hard-coded.")
        else:
            instruction = seen.pick([t.format(chart=chart, image=image, low=low, high=high, cpu=cpu, window=window,
                                              mem_text=mem_text) for t in HPA_TEMPLATES], i)
        prose = ("With `autoscaling.enabled` the Deployment omits `replicas`, so `helm upgrade` never resets the "
                 "count the HPA chose. "
                 f"Utilization is measured against the requests in values.yaml, and scale-down waits {window}s.")
        drafts.append(Draft(instruction, prose, blocks, input=inp))
    return drafts


# kind -> (image, config mount, args, health port, health path, config)
WORKERS = {
    "benthos": ("jeffail/benthos:4.27.0", "/etc/benthos", ["-c", "/etc/benthos/config.yaml"], 4195, "/ready",
                lambda q, dest: {
                    "http": {"address": "0.0.0.0:4195"},
                    "input": {"nats_jetstream": {"urls": ["nats://nats.messaging.svc:4222"], "subject": q,
                                                 "durable": f"{q}-worker"}},
                    "pipeline": {"processors": [{"mapping": 'root = this\nroot.processed_at = now()'}]},
                    "output": {"http_client": {"url": dest, "verb": "POST", "max_in_flight": 16}}}),
    "vector": ("timberio/vector:0.43.1-debian", "/etc/vector", ["--config", "/etc/vector/config.yaml"], 8686,
               "/health",
               lambda q, dest: {
                   "data_dir": "/tmp",
                   "api": {"enabled": True, "address": "0.0.0.0:8686"},
                   "sources": {"events": {"type": "kafka", "bootstrap_servers": "kafka.messaging.svc:9092",
                                          "group_id": f"{q}-worker", "topics": [q]}},
                   "sinks": {"out": {"type": "http", "inputs": ["events"], "uri": dest,
                                     "encoding": {"codec": "json"}}}}),
    "otelcol": ("otel/opentelemetry-collector-contrib:0.115.1", "/etc/otelcol", ["--config=/etc/otelcol/config.yaml"],
                13133, "/",
                lambda q, dest: {
                    "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
                    "receivers": {"kafka": {"brokers": ["kafka.messaging.svc:9092"], "topic": q}},
                    "processors": {"batch": {}},
                    "exporters": {"otlphttp": {"endpoint": dest}},
                    "service": {"extensions": ["health_check"], "pipelines": {"traces": {
                        "receivers": ["kafka"], "processors": ["batch"], "exporters": ["otlphttp"]}}}}),
}
QUEUES = ["orders", "signups", "payments", "clicks", "audit", "shipments", "invoices", "spans"]
DESTS = ["http://ledger.finance.svc:8080/events", "http://crm-sync.crm.svc:9000/ingest",
         "http://warehouse-loader.data.svc:8080/batch", "http://audit-store.compliance.svc:8080/records"]
OTLP_DESTS = ["http://otel-gateway.observability.svc:4318", "http://tempo.tracing.svc:4318"]
CHECKSUM = ("      annotations:\n        checksum/config: "
            '{{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}\n')
CONFIGMAP = ("apiVersion: v1\nkind: ConfigMap\n" + metadata()
             + "data:\n  config.yaml: |\n    {{- toYaml .Values.config | nindent 4 }}\n")
WORKER_TEMPLATES = [
    "Write a Helm chart for {article} {kind} worker ({image}) that consumes `{queue}` and posts results to {dest}. Its "
    "config must live in a ConfigMap, and pods must restart automatically when that config changes.",
    "Create a worker chart named {chart}: {replicas} of {image}, pipeline config from values rendered into "
    "a ConfigMap, and a checksum/config annotation so `helm upgrade` rolls the pods on config edits.",
    "I need a Helm chart for a background {kind} consumer (no Service) reading {queue} and writing to {dest}, with "
    "{sizes} resources and health probes on port {health}.",
    "Helm: deploy {image} as {chart}, a queue worker. Config in values.yaml -> ConfigMap, mounted read-only at "
    "{mount}; roll the Deployment whenever the rendered ConfigMap changes.",
]


def _worker_charts(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    kinds = list(WORKERS)
    for i, (queue, dest, size) in enumerate(zip(picks(rng, QUEUES, n), picks(rng, DESTS, n), picks(rng, SIZES[1:4], n),
                                                 strict=True)):
        kind = kinds[i % len(kinds)]
        image, mount, args, health, path, config = WORKERS[kind]
        if kind == "otelcol":
            dest = rng.choice(OTLP_DESTS)
        chart = f"{queue}-{kind}"
        replicas = rng.choice([1, 2, 3, 4])
        values = {"replicaCount": replicas, "image": image_values(image), "args": args, "containerPort": health,
                  **probe_values(path, path), **sized(size),
                  "# rendered into the ConfigMap; any change here rolls the pods": None,
                  "config": config(queue, dest)}
        blocks = [chart_file(chart, f"{kind} worker for the {queue} stream", image.rsplit(":", 1)[1]),
                  file_block("values.yaml", to_yaml(values)),
                  file_block("templates/deployment.yaml", deployment(annotations=CHECKSUM, args=True,
                                                                     config_mount=mount, tmp=kind == "vector")),
                  file_block("templates/configmap.yaml", CONFIGMAP)]
        fields = {"kind": kind, "image": image, "queue": queue, "dest": dest, "chart": chart,
                  "replicas": plural(replicas, "replica"),
                  "sizes": f"{size[0]}/{size[1]} requested, {size[2]}/{size[3]} limit", "health": health,
                  "mount": mount, "article": "an" if kind[0] in "aeiou" else "a"}
        inp = ""
        if i in (2, 7):
            inp = (f"- name: {chart}\n- image: {image}\n- replicas: {replicas}\n- consumes: {queue}\n"
                   f"- delivers to: {dest}\n- config: ConfigMap from values, mounted at {mount}\n"
                   "- config change must trigger a rollout\n- no Service; probes on the built-in health endpoint\n")
            instruction = seen.pick([f"Build the Helm chart described by this spec for the {queue} worker.",
                                     f"Here are the requirements for {chart}. Write the chart."], i)
        else:
            instruction = seen.pick([t.format(**fields) for t in WORKER_TEMPLATES], i)
        prose = ("The `checksum/config` annotation hashes the rendered ConfigMap into the pod template, so any change "
                 "to `config` in values changes the template and `helm upgrade` rolls the pods; without it they would "
                 "keep running the old file. "
                 f"The worker has no Service because nothing calls it; its probes use the built-in health endpoint on "
                 f"port {health}.")
        drafts.append(Draft(instruction, prose, blocks, input=inp))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _hpa_charts(rng, 10, seen) + _worker_charts(rng, 10, seen)
    return finalize(drafts, rng, "helm")
