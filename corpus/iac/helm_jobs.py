"""Helm examples: a CronJob chart whose script lives in values and is shipped in a ConfigMap."""

import random

from corpus.iac._helm import chart_file, container_security, file_block, image_values, labels, metadata, pod_security
from corpus.iac._k8s import SIZES, Distinct, Draft, finalize, picks, resources, to_yaml

SCHEDULES = [("0 2 * * *", "nightly at 02:00"), ("*/30 * * * *", "every half hour"),
             ("0 4 * * 6", "Saturdays at 04:00"), ("0 */4 * * *", "every four hours"),
             ("30 1 * * *", "daily at 01:30"), ("0 7 * * 1", "Mondays at 07:00")]
TIME_ZONES = ["Etc/UTC", "Europe/Paris", "America/Chicago", "Asia/Singapore", "Europe/Amsterdam"]

# kind -> (image, description, needs a data volume, env builder, password secret key or None, script)
TASKS = {
    "pg-backup": ("postgres:16.6", "Nightly pg_dump of a PostgreSQL database", True,
                  "set -eu\npg_dump -Fc -f \"/data/${PGDATABASE}-$(date +%Y%m%dT%H%M).dump\"\n"
                  "find /data -name '*.dump' -mtime +\"${RETENTION_DAYS}\" -delete\n"),
    "pg-vacuum": ("postgres:16.6", "Scheduled VACUUM ANALYZE for a PostgreSQL database", False,
                  "set -eu\npsql -v ON_ERROR_STOP=1 -c 'VACUUM (ANALYZE, VERBOSE);'\n"),
    "cleanup": ("busybox:1.37.0", "Prunes old files from a shared volume", True,
                "set -eu\nfind /data/tmp -type f -mtime +\"${RETENTION_DAYS}\" -print -delete\n"),
    "http-trigger": ("curlimages/curl:8.11.0", "Calls an internal endpoint on a schedule", False,
                     "set -eu\ncurl -fsS --retry 3 --max-time 120 -X POST \"${TARGET_URL}\"\n"),
    "redis-snapshot": ("redis:7.4.1", "Triggers a Redis background save on a schedule", False,
                       "set -eu\nredis-cli -h \"${REDIS_HOST}\" BGSAVE\n"),
}
TARGETS = ["orders", "billing", "catalog", "sessions", "analytics", "crm"]


def _env(kind: str, target: str, retention: int) -> tuple[dict, dict | None]:
    """Plain env vars, and the existing Secret that holds the credential (if the task needs one)."""
    if kind.startswith("pg-"):
        env = {"PGHOST": f"{target}-db.data.svc", "PGDATABASE": target, "PGUSER": "maintenance"}
        if kind == "pg-backup":
            env["RETENTION_DAYS"] = str(retention)
        return env, {"name": f"{target}-db-maintenance", "key": "password", "envVar": "PGPASSWORD"}
    if kind == "cleanup":
        return {"RETENTION_DAYS": str(retention)}, None
    if kind == "http-trigger":
        return {"TARGET_URL": f"http://{target}-api.{target}.svc:8080/internal/jobs/refresh"}, None
    return ({"REDIS_HOST": f"{target}-redis.cache.svc"},
            {"name": f"{target}-redis-auth", "key": "password", "envVar": "REDISCLI_AUTH"})


def _cronjob_template(has_secret: bool, has_data: bool) -> str:
    text = ("apiVersion: batch/v1\nkind: CronJob\n" + metadata()
            + "spec:\n  schedule: {{ .Values.schedule | quote }}\n  timeZone: {{ .Values.timeZone }}\n"
            "  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n"
            "      activeDeadlineSeconds: {{ .Values.activeDeadlineSeconds }}\n"
            "      ttlSecondsAfterFinished: 86400\n"
            "      template:\n        metadata:\n          labels:\n" + labels(12)
            + "        spec:\n          restartPolicy: Never\n          automountServiceAccountToken: false\n"
            + pod_security(10)
            + "          containers:\n            - name: {{ .Chart.Name }}\n"
            '              image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
            "              imagePullPolicy: {{ .Values.image.pullPolicy }}\n"
            '              command: ["/bin/sh", "/scripts/run.sh"]\n              env:\n'
            "                {{- range $name, $value := .Values.env }}\n                - name: {{ $name }}\n"
            "                  value: {{ $value | quote }}\n                {{- end }}\n")
    if has_secret:
        text += ("                - name: {{ .Values.passwordSecret.envVar }}\n                  valueFrom:\n"
                 "                    secretKeyRef:\n                      name: {{ .Values.passwordSecret.name }}\n"
                 "                      key: {{ .Values.passwordSecret.key }}\n")
    text += ("              resources:\n                {{- toYaml .Values.resources | nindent 16 }}\n"
             + container_security(14)
             + "              volumeMounts:\n                - name: script\n                  mountPath: /scripts\n"
             "                  readOnly: true\n")
    if has_data:
        text += "                - name: data\n                  mountPath: /data\n"
    text += ("          volumes:\n            - name: script\n              configMap:\n"
             "                name: {{ .Release.Name }}-script\n")
    if has_data:
        text += ("            - name: data\n              persistentVolumeClaim:\n"
                 "                claimName: {{ .Values.existingClaim }}\n")
    return text


CONFIGMAP = ("apiVersion: v1\nkind: ConfigMap\n" + metadata("-script")
             + "data:\n  run.sh: |\n    {{- .Values.script | trim | nindent 4 }}\n")

CRON_TEMPLATES = {
    "pg-backup": ["Write a Helm chart that runs pg_dump for the {target} database {when} ({tz}) and keeps {retention} "
                  "days of dumps on the existing PVC {claim}. The DB password is in Secret {secret}.",
                  "Package our Postgres backup CronJob as a chart: schedule `{cron}` in {tz}, custom-format dumps of "
                  "{target} into claim {claim}, {retention}-day retention, credentials from an existing Secret."],
    "pg-vacuum": ["Create a Helm chart for a CronJob that runs VACUUM ANALYZE on the {target} database {when}, time "
                  "zone {tz}, with the password taken from Secret {secret}.",
                  "I want database maintenance as a chart: psql VACUUM (ANALYZE) against {target} on cron `{cron}` "
                  "({tz}), never overlapping, at most {deadline}s per run."],
    "cleanup": ["Helm chart for a cleanup CronJob: {when} in {tz}, delete files older than {retention} days under "
                "/data/tmp on PVC {claim}, busybox image.",
                "Make a chart that prunes the temp directory of volume {claim} on schedule `{cron}` ({tz}); the "
                "retention ({retention} days) and the script itself should be overridable from values."],
    "http-trigger": ["Write a Helm chart whose CronJob POSTs to {url} {when} ({tz}) with curl and retries on "
                     "failure, giving up after {deadline} seconds.",
                     "Chart request: scheduled HTTP trigger, cron `{cron}`, zone {tz}, target {url}; finished Jobs "
                     "should be cleaned up after a day."],
    "redis-snapshot": ["Create a Helm chart that triggers BGSAVE on the {target} Redis {when} ({tz}), authenticating "
                       "with the password in Secret {secret}.",
                       "Scheduled Redis snapshots as a chart: redis-cli BGSAVE against {target}-redis on `{cron}` in "
                       "{tz}, no concurrent runs, credentials by Secret reference."],
}


def _cron_charts(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    kinds = list(TASKS)
    for i, (target, sched, tz) in enumerate(zip(picks(rng, TARGETS, n), picks(rng, SCHEDULES, n),
                                                picks(rng, TIME_ZONES, n), strict=True)):
        kind = kinds[i % len(kinds)]
        image, description, has_data, script = TASKS[kind]
        cron, when = sched
        retention, deadline = rng.choice([3, 7, 14]), rng.choice([600, 900, 1800])
        env, secret = _env(kind, target, retention)
        claim = f"{target}-{'backups' if kind == 'pg-backup' else 'shared'}"
        chart = f"{target}-{kind}"
        values: dict = {"schedule": cron, "timeZone": tz, "image": image_values(image), "env": env}
        if secret:
            values["# an existing Secret, created outside the chart"] = None
            values["passwordSecret"] = secret
        if has_data:
            values["existingClaim"] = claim
        values["activeDeadlineSeconds"] = deadline
        values["resources"] = resources(SIZES[2] if kind == "pg-backup" else SIZES[0])
        values["script"] = script
        blocks = [chart_file(chart, description, image.rsplit(":", 1)[1]), file_block("values.yaml", to_yaml(values)),
                  file_block("templates/cronjob.yaml", _cronjob_template(bool(secret), has_data)),
                  file_block("templates/configmap.yaml", CONFIGMAP)]
        fields = {"target": target, "when": when, "tz": tz, "retention": retention, "claim": claim, "cron": cron,
                  "secret": secret["name"] if secret else "", "deadline": deadline, "url": env.get("TARGET_URL")}
        instruction = seen.pick([t.format(**fields) for t in CRON_TEMPLATES[kind]], i // len(kinds))
        prose = ("The shell script is a value rendered into a ConfigMap and run with `sh`, so the job's behaviour can "
                 "change per environment without a new image. "
                 f"`concurrencyPolicy: Forbid`, a {deadline}-second deadline and a one-day TTL keep slow or finished "
                 "runs from piling up. ")
        prose += ("The credential is referenced from an existing Secret by name and never stored in values."
                  if secret else "The pod runs non-root with a read-only root filesystem and no capabilities.")
        drafts.append(Draft(instruction, prose, blocks))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finalize(_cron_charts(rng, 10, Distinct()), rng, "helm")
