"""Pulumi (Python) examples for Kubernetes with pulumi_kubernetes: hardened Deployments and namespace baselines."""

from __future__ import annotations

import random
import textwrap

from .pulumi import Program, fill, finish, program

_HEADER = "import pulumi\nimport pulumi_kubernetes as k8s"


def _env(spec: dict) -> list[str]:
    items = [f'{{"name": "{name}", "value": "{value}"}}' for name, value in spec.get("env", {}).items()]
    if spec.get("secret_env"):
        name, key = spec["secret_env"]
        items.append(f'{{\n    "name": "{name}",\n    "value_from": {{"secret_key_ref": {{"name": '
                     f'db_secret.metadata.name, "key": "{key}"}}}},\n}}')
    if not items:
        return []
    body = textwrap.indent(",\n".join(items) + ",", " " * 4)
    return [f'"env": [\n{body}\n],']


def _container(spec: dict) -> str:
    port = spec.get("port")
    probe_port = '"http"' if port else str(spec["health_port"])
    lines = [f'"name": "{spec["name"]}",', f'"image": f"{spec["image"]}:{{image_tag}}",']
    if port:
        lines.append(f'"ports": [{{"name": "http", "container_port": {port}}}],')
    lines += _env(spec)
    lines += [
        '"resources": {',
        f'    "requests": {{"cpu": "{spec["cpu"][0]}", "memory": "{spec["memory"][0]}"}},',
        f'    "limits": {{"cpu": "{spec["cpu"][1]}", "memory": "{spec["memory"][1]}"}},',
        "},",
        f'"readiness_probe": {{"http_get": {{"path": "{spec["ready"]}", "port": {probe_port}}}, "period_seconds": 5}},',
        '"liveness_probe": {',
        f'    "http_get": {{"path": "{spec["live"]}", "port": {probe_port}}},',
        '    "initial_delay_seconds": 10,',
        '    "period_seconds": 10,',
        "},",
        '"security_context": {',
        '    "allow_privilege_escalation": False,',
        '    "read_only_root_filesystem": True,',
        '    "capabilities": {"drop": ["ALL"]},',
        "},",
        '"volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],',
    ]
    body = textwrap.indent("\n".join(lines), " " * 4)
    return f"{{\n{body}\n}}"


def _deployment(spec: dict) -> str:
    container = textwrap.indent(_container(spec), " " * 20).lstrip()
    return fill('''
        deployment = k8s.apps.v1.Deployment(
            "$name",
            metadata={"name": "$name", "namespace": namespace, "labels": labels},
            spec={
                "replicas": replicas,
                "selector": {"match_labels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automount_service_account_token": False,
                        "security_context": {
                            "run_as_non_root": True,
                            "run_as_user": 10001,
                            "run_as_group": 10001,
                            "seccomp_profile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            $container
                        ],
                        "volumes": [{"name": "tmp", "empty_dir": {}}],
                    },
                },
            },
        )''', name=spec["name"], container=container)


def _service(spec: dict) -> str:
    return fill('''
        service = k8s.core.v1.Service(
            "$name",
            metadata={"name": "$name", "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "target_port": "http"}],
            },
        )''', name=spec["name"])


def _config(spec: dict, extra: str = "") -> str:
    return fill('''
        config = pulumi.Config()
        namespace = config.get("namespace") or "$namespace"
        image_tag = config.get("imageTag") or "$tag"
        replicas = config.get_int("replicas") or $replicas$extra

        labels = {"app.kubernetes.io/name": "$name", "app.kubernetes.io/part-of": "$namespace"}''',
                namespace=spec["namespace"], tag=spec["tag"], replicas=spec["replicas"], name=spec["name"],
                extra=extra)


_SPECS = {
    "checkout": {"name": "checkout-api", "namespace": "shop", "image": "registry.example.com/shop/checkout-api",
                 "tag": "2.4.1", "replicas": 3, "port": 8080, "cpu": ("200m", "1"), "memory": ("256Mi", "512Mi"),
                 "ready": "/ready", "live": "/healthz", "env": {"LOG_FORMAT": "json"}},
    "worker": {"name": "notification-worker", "namespace": "messaging", "health_port": 9090,
               "image": "registry.example.com/messaging/notification-worker", "tag": "1.12.0", "replicas": 2,
               "cpu": ("100m", "500m"), "memory": ("128Mi", "256Mi"), "ready": "/ready", "live": "/healthz",
               "env": {"QUEUE_NAME": "notifications"}},
    "search": {"name": "search-frontend", "namespace": "search", "image": "registry.example.com/search/frontend",
               "tag": "5.0.3", "replicas": 3, "port": 3000, "cpu": ("250m", "1"), "memory": ("256Mi", "768Mi"),
               "ready": "/api/ready", "live": "/api/health"},
    "payments": {"name": "payments-api", "namespace": "payments", "image": "registry.example.com/payments/api",
                 "tag": "3.8.0", "replicas": 2, "port": 8080, "cpu": ("250m", "1"), "memory": ("512Mi", "1Gi"),
                 "ready": "/ready", "live": "/live", "secret_env": ("DB_PASSWORD", "password"),
                 "env": {"DB_HOST": "payments-db.payments.svc", "DB_USER": "payments"}},
}

_POD_PROSE = ("Every container has requests and limits, readiness and liveness probes, and runs as a non-root user "
              "with no privilege escalation, a read-only root filesystem (plus a writable /tmp) and all capabilities "
              "dropped.")


def _checkout(rng: random.Random) -> Program:
    spec = _SPECS["checkout"]
    blocks = [_config(spec), _deployment(spec), _service(spec),
              'pulumi.export("service_name", service.metadata.name)']
    ask = ("Write a Pulumi Python program with pulumi_kubernetes that runs checkout-api (image "
           "registry.example.com/shop/checkout-api, tag 2.4.1 by default) in the shop namespace: 3 replicas, port "
           "8080, probes on /ready and /healthz, production-grade security context, and a ClusterIP Service on "
           "port 80.")
    prose = (f"{_POD_PROSE} The image tag, replica count and namespace come from stack config, so each environment "
             "pins its own version instead of relying on a moving tag.")
    return Program(ask, program("checkout-api Deployment and Service.", _HEADER, *blocks), prose,
                   provider="kubernetes")


def _worker(rng: random.Random) -> Program:
    spec = _SPECS["worker"]
    pdb = fill('''
        # Keeps at least one worker running during node drains and cluster upgrades.
        k8s.policy.v1.PodDisruptionBudget(
            "notification-worker",
            metadata={"name": "notification-worker", "namespace": namespace},
            spec={"min_available": 1, "selector": {"match_labels": labels}},
        )''')
    blocks = [_config(spec), _deployment(spec), pdb, 'pulumi.export("deployment", deployment.metadata.name)']
    ask = ("Pulumi (Python, pulumi_kubernetes): deploy notification-worker 1.12.0 to the messaging namespace with 2 "
           "replicas. It has no Service; its health endpoints are on port 9090. Add a PodDisruptionBudget so a drain "
           "never stops all workers.")
    prose = (f"{_POD_PROSE} The worker exposes no Service, so the probes hit its health port directly, and the "
             "PodDisruptionBudget keeps one replica running through voluntary disruptions.")
    return Program(ask, program("notification-worker Deployment with a PodDisruptionBudget.", _HEADER, *blocks),
                   prose, provider="kubernetes")


def _search(rng: random.Random) -> Program:
    spec = _SPECS["search"]
    maximum = rng.choice([10, 12])
    hpa = fill('''
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            "search-frontend",
            metadata={"name": "search-frontend", "namespace": namespace},
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "min_replicas": replicas,
                "max_replicas": $maximum,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "average_utilization": 70}},
                    }
                ],
            },
        )''', maximum=maximum)
    blocks = [_config(spec), _deployment(spec), _service(spec), hpa,
              'pulumi.export("service_name", service.metadata.name)']
    ask = (f"Deploy search-frontend 5.0.3 (port 3000) to Kubernetes with Pulumi in Python, behind a ClusterIP "
           f"Service, and autoscale it between 3 and {maximum} replicas at 70% CPU. Follow pod security best "
           "practices.")
    prose = (f"{_POD_PROSE} The HPA scales on CPU utilization relative to the requests, which is why the requests "
             "are set deliberately; the Deployment's replica count is only the starting point.")
    return Program(ask, program("search-frontend Deployment, Service and autoscaler.", _HEADER, *blocks), prose,
                   provider="kubernetes")


_DB_PASSWORD = ('\n# Set with: pulumi config set --secret dbPassword <value>\n'
                'db_password = config.require_secret("dbPassword")')


def _secret_block() -> str:
    return fill('''
        db_secret = k8s.core.v1.Secret(
            "payments-db",
            metadata={"name": "payments-db", "namespace": namespace},
            type="Opaque",
            string_data={"password": db_password},
        )''')


def _payments(rng: random.Random) -> Program:
    spec = _SPECS["payments"]
    blocks = [_config(spec, _DB_PASSWORD), _secret_block(), _deployment(spec), _service(spec),
              'pulumi.export("service_name", service.metadata.name)']
    ask = ("Write a Pulumi Python program that deploys payments-api 3.8.0 to the payments namespace and gives it "
           "the database password from encrypted Pulumi config through a Kubernetes Secret, never as plain text in "
           "the manifest. Include a Service and hardened pod settings.")
    prose = ("The password is read with require_secret, so it stays encrypted in the stack and in state, and the "
             f"container gets it through a secretKeyRef rather than a literal value. {_POD_PROSE}")
    return Program(ask, program("payments-api with its database password in a Kubernetes Secret.", _HEADER,
                                *blocks), prose, provider="kubernetes")


def _fix(rng: random.Random) -> Program:
    given = fill('''
        import pulumi_kubernetes as k8s

        k8s.apps.v1.Deployment(
            "payments-api",
            spec=k8s.apps.v1.DeploymentSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "payments-api"}),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": "payments-api"}),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="payments-api",
                                image="registry.example.com/payments/api:latest",
                                env=[k8s.core.v1.EnvVarArgs(name="DB_PASSWORD", value="hunter2")],
                            )
                        ]
                    ),
                ),
            ),
        )''')
    spec = _SPECS["payments"]
    blocks = [_config(spec, _DB_PASSWORD), _secret_block(), _deployment(spec),
              'pulumi.export("deployment", deployment.metadata.name)']
    ask = rng.choice(["Review this Pulumi Kubernetes Deployment and fix everything that is not production-ready.",
                      "Make this payments-api Deployment safe to run in production."])
    prose = ("The original used the :latest tag, had no namespace, resources or probes, and put the database "
             "password in plain text; the tag is now pinned (3.8.0, overridable in config) and the password comes "
             f"from encrypted config through a Secret. {_POD_PROSE} Change the leaked password, since it is in your "
             "Git history.")
    return Program(ask, program("payments-api Deployment, hardened.", _HEADER, *blocks), prose,
                   provider="kubernetes", input=given)


def _baseline(rng: random.Random) -> Program:
    team = rng.choice(["analytics", "growth"])
    blocks = [
        fill('''
            config = pulumi.Config()
            namespace_name = config.get("namespace") or "$team"''', team=team),
        fill('''
            # Pod Security Admission rejects pods that do not meet the restricted profile.
            namespace = k8s.core.v1.Namespace(
                "namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=namespace_name,
                    labels={
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                ),
            )

            k8s.core.v1.ResourceQuota(
                "quota",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="team-quota", namespace=namespace.metadata.name),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={"requests.cpu": "8", "requests.memory": "16Gi", "limits.cpu": "16", "limits.memory": "32Gi"}
                ),
            )

            k8s.core.v1.LimitRange(
                "defaults",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="container-defaults", namespace=namespace.metadata.name),
                spec=k8s.core.v1.LimitRangeSpecArgs(
                    limits=[
                        k8s.core.v1.LimitRangeItemArgs(
                            type="Container",
                            default_request={"cpu": "100m", "memory": "128Mi"},
                            default={"cpu": "500m", "memory": "512Mi"},
                        )
                    ]
                ),
            )

            # Deny all ingress until a workload adds its own NetworkPolicy.
            k8s.networking.v1.NetworkPolicy(
                "default-deny-ingress",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=namespace.metadata.name),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                    policy_types=["Ingress"],
                ),
            )'''),
        'pulumi.export("namespace", namespace.metadata.name)',
    ]
    ask = (f"Create a baseline namespace for the {team} team with Pulumi (Python): enforce the restricted Pod "
           "Security Standard, cap the team's total CPU and memory, give containers default requests and limits, "
           "and deny all ingress traffic by default.")
    prose = ("The restricted Pod Security label makes the API server reject privileged or root pods outright, the "
             "quota caps what the team can request, and the LimitRange fills in requests and limits for containers "
             "that omit them, which the quota requires. The default-deny policy means every service has to declare "
             "who may reach it.")
    return Program(ask, program(f"Baseline namespace for the {team} team.", _HEADER, *blocks), prose,
                   provider="kubernetes")


def examples(rng: random.Random) -> list[dict]:
    builders = (_checkout, _worker, _search, _payments, _fix, _baseline)
    return finish(rng, [builder(rng) for builder in builders])
