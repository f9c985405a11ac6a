"""Shared pieces for the Helm chart generators: Chart.yaml, common values and the template files."""

from corpus.iac._k8s import resources


def file_block(path: str, body: str) -> str:
    """One fenced block per chart file, named by its first-line comment."""
    return f"```yaml\n# file: {path}\n{body.rstrip()}\n```"


def chart_file(name: str, description: str, app_version: str, version: str = "0.1.0") -> str:
    body = (f"apiVersion: v2\nname: {name}\ndescription: {description}\ntype: application\n"
            f"version: {version}\nappVersion: \"{app_version}\"\n")
    return file_block("Chart.yaml", body)


def image_values(image: str) -> dict:
    repository, tag = image.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "pullPolicy": "Always"}


def sized(size: tuple[str, str, str, str]) -> dict:
    return {"resources": resources(size)}


# one label is enough to select a release's pods: the release name is unique within its namespace
LABEL = "app.kubernetes.io/instance: {{ .Release.Name }}\n"


def labels(indent: int) -> str:
    return " " * indent + LABEL


def metadata(suffix: str = "", labelled: bool = True) -> str:
    """The metadata block of a namespaced object, named after the release."""
    text = f"metadata:\n  name: {{{{ .Release.Name }}}}{suffix}\n  namespace: {{{{ .Release.Namespace }}}}\n"
    return text + ("  labels:\n" + labels(4) if labelled else "")


def _with(key: str, field: str) -> str:
    """An optional list/map field copied from values only when it is set."""
    return (f"          {{{{- with .Values.{key} }}}}\n          {field}:\n"
            "            {{- toYaml . | nindent 12 }}\n          {{- end }}\n")


def pod_security(indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line + "\n" for line in [
        "securityContext:", "  runAsNonRoot: true", "  runAsUser: 10001", "  seccompProfile:",
        "    type: RuntimeDefault"])


def container_security(indent: int) -> str:
    """Hard-coded rather than read from values, so no values file can switch the hardening off."""
    pad = " " * indent
    return "".join(pad + line + "\n" for line in [
        "securityContext:", "  allowPrivilegeEscalation: false", "  readOnlyRootFilesystem: true", "  capabilities:",
        '    drop: ["ALL"]'])


HTTP_PROBES = ("          livenessProbe:\n            httpGet:\n              path: {{ .Values.probes.liveness }}\n"
               "              port: http\n            initialDelaySeconds: 10\n          readinessProbe:\n"
               "            httpGet:\n              path: {{ .Values.probes.readiness }}\n              port: http\n")
VALUE_PROBES = ("          livenessProbe:\n            {{- toYaml .Values.livenessProbe | nindent 12 }}\n"
                "          readinessProbe:\n            {{- toYaml .Values.readinessProbe | nindent 12 }}\n")


def deployment(*, hpa: bool = False, annotations: str = "", ports: bool = True, args: bool = False,
               env: bool = False, tmp: bool = False, config_mount: str = "", http_probes: bool = True) -> str:
    """templates/deployment.yaml; the switches add only what a chart needs (HPA-owned replicas, args, ...)."""
    text = "apiVersion: apps/v1\nkind: Deployment\n" + metadata() + "spec:\n"
    text += ("  {{- if not .Values.autoscaling.enabled }}\n  replicas: {{ .Values.replicaCount }}\n  {{- end }}\n"
             if hpa else "  replicas: {{ .Values.replicaCount }}\n")
    text += "  selector:\n    matchLabels:\n" + labels(6) + "  template:\n    metadata:\n" + annotations
    text += ("      labels:\n" + labels(8) + "    spec:\n      automountServiceAccountToken: false\n"
             + pod_security(6) +
             "      containers:\n        - name: {{ .Chart.Name }}\n"
             '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
             "          imagePullPolicy: {{ .Values.image.pullPolicy }}\n")
    if args:
        text += _with("args", "args")
    if env:
        text += _with("env", "env")
    if ports:
        text += "          ports:\n            - name: http\n              containerPort: {{ .Values.containerPort }}\n"
    text += (HTTP_PROBES if http_probes else VALUE_PROBES)
    text += "          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n" + container_security(10)
    mounts, volumes = "", ""
    if config_mount:
        mounts += f"            - name: config\n              mountPath: {config_mount}\n              readOnly: true\n"
        volumes += "        - name: config\n          configMap:\n            name: {{ .Release.Name }}\n"
    if tmp:
        mounts += "            - name: tmp\n              mountPath: /tmp\n"
        volumes += "        - name: tmp\n          emptyDir: {}\n"
    if mounts:
        text += "          volumeMounts:\n" + mounts + "      volumes:\n" + volumes
    return text


def service(labelled: bool = True) -> str:
    return ("apiVersion: v1\nkind: Service\n" + metadata(labelled=labelled) + "spec:\n  selector:\n" + labels(4)
            + "  ports:\n    - name: http\n      port: {{ .Values.service.port }}\n      targetPort: http\n")


def probe_values(live: str, ready: str) -> dict:
    return {"probes": {"liveness": live, "readiness": ready}}
