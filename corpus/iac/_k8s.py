"""Shared pieces for the Kubernetes and Helm example generators.

Manifests are built as plain dicts and written by a tiny YAML emitter, so indentation can never drift
and every family states only what differs. Keys that start with "# " become comment lines.
"""

import random
import re
from dataclasses import dataclass, field

# Strings that YAML would read as something other than a string, or that a plain scalar can't hold.
_NEEDS_QUOTES = re.compile(
    r"^$|^[-?:,\[\]{}#&*!|>'\"%@`\s]|: | #|:$|\s$|\*"
    r"|^(true|false|yes|no|on|off|y|n|null|~)$"
    r"|^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?$|^0[xo][0-9a-fA-F]+$|^\d+(:\d+)+$",
    re.IGNORECASE,
)


class Flow(list):
    """A short list written inline, e.g. drop: ["ALL"]."""


class Raw(str):
    """A scalar written exactly as given, e.g. an octal file mode 0440."""


def scalar(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _flow(items: list) -> str:
    parts = [f'"{item}"' if isinstance(item, str) else scalar(item) for item in items]
    return "[" + ", ".join(parts) + "]"


def _value_lines(key: str, value: object, pad: str, indent: int) -> list[str]:
    if isinstance(value, Flow):
        return [f"{pad}{key}: {_flow(value)}"]
    if isinstance(value, dict):
        return [f"{pad}{key}:", *_dict_lines(value, indent + 2)] if value else [f"{pad}{key}: {{}}"]
    if isinstance(value, list):
        return [f"{pad}{key}:", *_list_lines(value, indent + 2)] if value else [f"{pad}{key}: []"]
    if isinstance(value, str) and "\n" in value:
        return [f"{pad}{key}: {_block(value, indent + 2)[0]}", *_block(value, indent + 2)[1:]]
    return [f"{pad}{key}: {scalar(value)}"]


def _block(text: str, indent: int) -> list[str]:
    """A literal block scalar: its header (| or |-) followed by the indented lines."""
    chomp = "|" if text.endswith("\n") else "|-"
    return [chomp, *[(" " * indent + line) if line else "" for line in text.rstrip("\n").split("\n")]]


def _dict_lines(mapping: dict, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if key.startswith("# "):
            lines.append(pad + key)
        else:
            lines.extend(_value_lines(key, value, pad, indent))
    return lines


def _list_lines(items: list, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, dict):
            sub = _dict_lines(item, indent + 2)
            lines.append(pad + "- " + sub[0].lstrip(" "))
            lines.extend(sub[1:])
        elif isinstance(item, str) and "\n" in item:
            header, *body = _block(item, indent + 2)
            lines += [f"{pad}- {header}", *body]
        else:
            lines.append(f"{pad}- {scalar(item)}")
    return lines


def to_yaml(*docs: dict) -> str:
    """One or more manifests as a YAML stream separated by ---."""
    return "---\n".join("\n".join(_dict_lines(doc, 0)) + "\n" for doc in docs)


def fence(code: str) -> str:
    return f"```yaml\n{code.rstrip()}\n```"


# (image, container port, liveness path, readiness path, args): real public images that run as any non-root UID
WEB_IMAGES = [
    ("ghcr.io/stefanprodan/podinfo:6.7.1", 9898, "/healthz", "/readyz", None),
    ("us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0", 8080, "/", "/", None),
    ("hashicorp/http-echo:1.0.0", 5678, "/health", "/health", ["-listen=:5678", "-text=ok"]),
    ("traefik/whoami:v1.10.3", 8080, "/health", "/health", ["--port", "8080"]),
    ("nginxinc/nginx-unprivileged:1.27.3-alpine", 8080, "/", "/", None),
    ("mccutchen/go-httpbin:v2.15.0", 8080, "/status/200", "/status/200", None),
]

# --- building blocks that every workload shares ------------------------------------------------------------

# (cpu request, memory request, cpu limit, memory limit)
SIZES = [
    ("50m", "64Mi", "200m", "128Mi"),
    ("100m", "128Mi", "500m", "256Mi"),
    ("200m", "256Mi", "1", "512Mi"),
    ("250m", "512Mi", "1", "1Gi"),
    ("500m", "1Gi", "2", "2Gi"),
]


def resources(size: tuple[str, str, str, str]) -> dict:
    cpu_req, mem_req, cpu_lim, mem_lim = size
    return {"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"cpu": cpu_lim, "memory": mem_lim}}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def probe_text(live: str, ready: str) -> str:
    return f"health endpoint {live}" if live == ready else f"health endpoints {live} and {ready}"


def size_text(size: tuple[str, str, str, str]) -> str:
    return f"requests of {size[0]} CPU / {size[1]} and limits of {size[2]} CPU / {size[3]}"


def pod_security(uid: int = 10001) -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(read_only: bool = True) -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only,
        "capabilities": {"drop": Flow(["ALL"])},
    }


def meta(name: str, namespace: str, labels: dict | None = None) -> dict:
    out: dict = {"name": name, "namespace": namespace}
    if labels:
        out["labels"] = labels
    return out


def app_labels(name: str, part_of: str | None = None) -> dict:
    labels = {"app.kubernetes.io/name": name}
    if part_of:
        labels["app.kubernetes.io/part-of"] = part_of
    return labels


def http_probe(path: str, port: str | int, delay: int = 0, period: int = 10) -> dict:
    probe: dict = {"httpGet": {"path": path, "port": port}}
    if delay:
        probe["initialDelaySeconds"] = delay
    probe["periodSeconds"] = period
    return probe


def env_from_secret(var: str, secret: str, key: str) -> dict:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


# --- rows ---------------------------------------------------------------------------------------------------

@dataclass
class Draft:
    """One example before its style is chosen: prose is used only for VERBOSE rows."""

    instruction: str
    prose: str
    blocks: list[str]
    input: str = ""
    extra: dict = field(default_factory=dict)


def finalize(drafts: list[Draft], rng: random.Random, language: str, provider: str = "kubernetes") -> list[dict]:
    """Mark ~30% of rows TERSE (code only) and give the rest their 2-4 sentence explanation."""
    terse = set(rng.sample(range(len(drafts)), round(len(drafts) * 0.3)))
    rows = []
    for i, draft in enumerate(drafts):
        code = "\n\n".join(draft.blocks)
        style = "TERSE" if i in terse else "VERBOSE"
        rows.append({
            "instruction": draft.instruction,
            "input": draft.input,
            "output": code if style == "TERSE" else f"{draft.prose}\n\n{code}",
            "style": style,
            "language": language,
            "provider": provider,
        })
    return rows


def picks(rng: random.Random, table: list, n: int) -> list:
    """n entries from table cycling through one seeded order, so rows i and i + k*len(table) share an entry
    and any rows closer together than len(table) never do."""
    order = rng.sample(table, len(table))
    return [order[i % len(order)] for i in range(n)]


def container(name: str, image: str, size: tuple[str, str, str, str], **fields: object) -> dict:
    """A hardened container; fields (args, ports, env, probes, volumeMounts, ...) keep the order given."""
    read_only = bool(fields.pop("read_only", True))
    out: dict = {"name": name, "image": image, "imagePullPolicy": "Always"}
    out.update({k: v for k, v in fields.items() if v is not None})
    out["resources"] = resources(size)
    out["securityContext"] = container_security(read_only)
    return out


def pod_spec(containers: list[dict], uid: int = 10001, volumes: list[dict] | None = None, **fields: object) -> dict:
    spec: dict = {"automountServiceAccountToken": False}
    spec.update({k: v for k, v in fields.items() if v is not None})
    spec["securityContext"] = pod_security(uid)
    spec["containers"] = containers
    if volumes:
        spec["volumes"] = volumes
    return spec


def deployment(name: str, namespace: str, replicas: int, pod: dict, labels: dict | None = None,
               pod_annotations: dict | None = None, strategy: dict | None = None) -> dict:
    labels = labels or app_labels(name)
    template_meta: dict = {"labels": labels}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, labels),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels},
            "strategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def service(name: str, namespace: str, port: int, target: str | int = "http", headless: bool = False) -> dict:
    spec: dict = {"type": "ClusterIP"}
    if headless:
        spec = {"clusterIP": "None"}
    spec["selector"] = {"app.kubernetes.io/name": name}
    spec["ports"] = [{"name": target if isinstance(target, str) else "tcp", "port": port, "targetPort": target}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace, app_labels(name)), "spec": spec}


def tmp_volume(name: str = "tmp", size_limit: str = "64Mi") -> dict:
    return {"name": name, "emptyDir": {"sizeLimit": size_limit}}


def zone_spread(name: str) -> list[dict]:
    return [{
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
    }]


def _grams(text: str) -> frozenset[str]:
    text = text.lower()
    return frozenset(text[i:i + 5] for i in range(len(text) - 4))


class Distinct:
    """Chooses among equivalent phrasings of a request so that no two instructions read as near-copies
    (character 5-gram Jaccard similarity stays under `limit`)."""

    def __init__(self, limit: float = 0.7) -> None:
        self.limit = limit
        self.seen: list[frozenset[str]] = []

    def _worst(self, grams: frozenset[str]) -> float:
        return max((len(grams & other) / len(grams | other) for other in self.seen), default=0.0)

    def pick(self, options: list[str], start: int = 0) -> str:
        """The first option (rotating from `start`) that is distinct enough, else the least similar one."""
        rotated = options[start % len(options):] + options[:start % len(options)]
        scored = []
        for text in rotated:
            grams = _grams(text)
            worst = self._worst(grams)
            if worst < self.limit:
                self.seen.append(grams)
                return text
            scored.append((worst, len(scored), text, grams))
        _, _, text, grams = min(scored)
        self.seen.append(grams)
        return text
