"""Kubernetes examples: CronJobs and one-off Jobs with retry limits, deadlines and TTL clean-up."""

import random

from corpus.iac._k8s import (
    SIZES,
    Distinct,
    Draft,
    container,
    env_from_secret,
    fence,
    finalize,
    meta,
    picks,
    plural,
    pod_spec,
    tmp_volume,
    to_yaml,
)

NAMESPACES = ["billing", "reporting", "shop", "media", "analytics", "crm", "search", "backoffice", "warehouse", "docs"]
# (cron expression, how a person says it)
SCHEDULES = [
    ("0 2 * * *", "every night at 02:00"),
    ("30 3 * * 0", "every Sunday at 03:30"),
    ("*/15 * * * *", "every 15 minutes"),
    ("0 */6 * * *", "every six hours"),
    ("15 1 1 * *", "at 01:15 on the first day of each month"),
    ("0 6 * * 1-5", "at 06:00 on weekdays"),
    ("45 23 * * *", "daily at 23:45"),
]
TIME_ZONES = ["Etc/UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Europe/London"]


def _cron_task(kind: str, ns: str, target: str, retention: int) -> dict:
    """What the job runs: image, shell command, env and volumes."""
    if kind == "pg-backup":
        script = ('set -eu\nfile="/backup/${PGDATABASE}-$(date +%Y%m%dT%H%M).dump"\n'
                  'pg_dump --format=custom --file="$file"\n'
                  f"find /backup -name '*.dump' -mtime +{retention} -delete\n")
        return {"image": "postgres:16.6", "script": script, "volume": ("backup", "/backup", f"{target}-backups"),
                "env": [{"name": "PGHOST", "value": f"{target}.{ns}.svc"}, {"name": "PGDATABASE", "value": target},
                        {"name": "PGUSER", "value": "backup"},
                        env_from_secret("PGPASSWORD", f"{target}-backup", "password")]}
    if kind == "cleanup":
        script = f"find /data/tmp -type f -mtime +{retention} -print -delete"
        return {"image": "busybox:1.37.0", "script": script, "volume": ("data", "/data", f"{target}-data"), "env": []}
    path = {"report": "/internal/reports/run", "sitemap": "/internal/sitemap/rebuild"}[kind]
    return {"image": "curlimages/curl:8.11.0", "command": ["curl"], "volume": None, "env": [],
            "args": ["-fsS", "--retry", "3", "--max-time", "60", "-X", "POST", f"http://{target}.{ns}.svc:8080{path}"]}


CRON_KINDS = {
    "pg-backup": ["orders", "accounts", "ledger"],
    "cleanup": ["uploads", "exports", "thumbnails"],
    "report": ["reports", "finance-reports"],
    "sitemap": ["storefront", "docs-portal"],
}
CRON_TEMPLATES = {
    "pg-backup": [
        "Create a CronJob that runs pg_dump of the {target} database {when} ({tz}) in namespace {ns}, writes the "
        "dump to the existing PVC {claim} and deletes dumps older than {retention} days.",
        "Back up Postgres database {target} ({target}.{ns}.svc) on the schedule `{cron}`, time zone {tz}. The "
        "password is in Secret {target}-backup; keep {retention} days of custom-format dumps on PVC {claim}.",
    ],
    "cleanup": [
        "Schedule a cleanup in {ns} that deletes files older than {retention} days from /data/tmp on the PVC "
        "{claim}, {when} in {tz}. Never let two runs overlap.",
        "I keep running out of disk on {claim}. Write a CronJob (namespace {ns}, cron `{cron}`, zone {tz}) that "
        "prunes temp files past {retention} days with busybox.",
    ],
    "report": [
        "Trigger the report generator at http://{target}.{ns}.svc:8080 with a POST {when} ({tz}). Use a curl "
        "image, retry failed requests, and keep only a few finished jobs around.",
        "CronJob for namespace {ns}: `{cron}` in {tz}, call POST /internal/reports/run on service {target} port "
        "8080, fail after {deadline} seconds, no concurrent runs.",
    ],
    "sitemap": [
        "Write a CronJob that asks the {target} service in {ns} to rebuild its sitemap {when}, time zone {tz}, "
        "giving up after {deadline} seconds.",
        "Every run of `{cron}` ({tz}) should POST to {target}.{ns}.svc:8080/internal/sitemap/rebuild. Namespace "
        "{ns}; hardened pod, history limits, and a TTL so old Jobs disappear.",
    ],
}


def _cronjob(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    kinds = list(CRON_KINDS)
    for i, (ns, sched, tz) in enumerate(zip(picks(rng, NAMESPACES, n), picks(rng, SCHEDULES, n),
                                            picks(rng, TIME_ZONES, n), strict=True)):
        kind = kinds[i % len(kinds)]
        target = CRON_KINDS[kind][i // len(kinds) % len(CRON_KINDS[kind])]
        cron, when = sched
        retention = rng.choice([3, 7, 14, 30])
        deadline = rng.choice([300, 600, 900])
        task = _cron_task(kind, ns, target, retention)
        name = f"{target}-{kind}"
        mounts, volumes = [{"name": "tmp", "mountPath": "/tmp"}], [tmp_volume()]
        claim = f"{target}-{'backups' if kind == 'pg-backup' else 'data'}"
        if task["volume"]:
            vol, path, claim = task["volume"]
            mounts.insert(0, {"name": vol, "mountPath": path})
            volumes.insert(0, {"name": vol, "persistentVolumeClaim": {"claimName": claim}})
        job = container(kind, task["image"], SIZES[1 if kind != "pg-backup" else 2],
                        command=task.get("command", ["/bin/sh", "-c"]), args=task.get("args", [task.get("script")]),
                        env=task["env"] or None, volumeMounts=mounts)
        pod = pod_spec([job], volumes=volumes, restartPolicy="Never")
        cronjob = {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(name, ns),
            "spec": {
                "schedule": cron, "timeZone": tz, "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 300,
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": deadline,
                                         "ttlSecondsAfterFinished": 86400, "template": {"spec": pod}}},
            },
        }
        fields = {"target": target, "when": when, "tz": tz, "ns": ns, "claim": claim, "retention": retention,
                  "cron": cron, "deadline": deadline}
        inp = ""
        action = " ".join(task["args"]) if "args" in task else task["script"].strip().splitlines()[-1]
        if i == 5:
            inp = (f"- namespace: {ns}\n- schedule: {when}, {tz}\n- action: {action}\n"
                   f"- image: {task['image']}\n- must not overlap, must give up after {deadline}s\n")
            instruction = "Turn this list of requirements into a Kubernetes CronJob manifest."
        else:
            instruction = seen.pick([t.format(**fields) for t in CRON_TEMPLATES[kind]], i // len(kinds))
        prose = (f"`{cron}` with `timeZone: {tz}` pins the schedule to local time instead of the controller's clock, "
                 "and `concurrencyPolicy: Forbid` skips a run rather than stacking it on a slow one. "
                 f"Each Job retries twice, is killed after {deadline} seconds, and is garbage-collected a day after it "
                 "finishes, while the pod runs non-root with a read-only root filesystem.")
        if task["env"]:
            prose += " The database password is read from an existing Secret, never written into the manifest."
        drafts.append(Draft(instruction, prose, [fence(to_yaml(cronjob))], input=inp))
    return drafts


JOB_KINDS = ["migrate", "reindex", "shards", "migrate", "reindex", "shards", "migrate", "shards"]
JOB_APPS = ["orders", "catalog", "accounts", "tickets", "invoices", "media"]
JOB_TEMPLATES = {
    "migrate": [
        "Write a Kubernetes Job that applies the SQL migrations for {app} with migrate/migrate. The migration files "
        "are in ConfigMap {app}-migrations and the connection string in Secret {app}-db (key url). Namespace "
        "{ns}; retry at most {retries} and delete the Job {ttl_h} hours after it finishes.",
        "Run database migrations for {app} once, as a Job in {ns}: no more than {retry_n}, a hard "
        "{deadline}-second deadline, and automatic cleanup after {ttl_h}h. Read DATABASE_URL from Secret {app}-db.",
        "Need a pre-release migration Job ({app}, namespace {ns}) using the golang-migrate image; stop it after "
        "{deadline} seconds, retry no more than {retries}, migrations mounted from a ConfigMap.",
    ],
    "reindex": [
        "Create a one-off Job in {ns} that POSTs to http://search-api.{ns}.svc:8080/admin/reindex?index={app} to "
        "rebuild the {app} index. Allow {retry_n}, {deadline} seconds in total, and clean up after "
        "{ttl_h} hours.",
        "Kick off a full reindex of {app} via a Kubernetes Job (curl against the search-api Service in {ns}). If "
        "the node is drained mid-run, don't count that as a failure.",
    ],
    "shards": [
        "Write an Indexed Job that rebuilds {app} thumbnails in {completions} shards, {parallelism} at a time, "
        "calling the thumbnailer Service in {ns} with the shard index. Give up after {failures}.",
        "Split the {app} backfill into {completions} indexed work items processed {parallelism} in parallel "
        "(namespace {ns}); each pod gets JOB_COMPLETION_INDEX and finished Jobs vanish after {ttl_h}h.",
    ],
}


def _job(rng: random.Random, n: int, seen: Distinct) -> list[Draft]:
    drafts = []
    for i, (kind, app, ns) in enumerate(zip(picks(rng, JOB_KINDS, n), picks(rng, JOB_APPS, n),
                                            picks(rng, NAMESPACES, n), strict=True)):
        backoff, deadline, ttl_h = rng.choice([1, 2, 3]), rng.choice([600, 1200, 1800]), rng.choice([1, 6, 24])
        completions, parallelism = rng.choice([(8, 2), (12, 3), (16, 4), (10, 5)])
        spec: dict = {"backoffLimit": backoff, "activeDeadlineSeconds": deadline,
                      "ttlSecondsAfterFinished": ttl_h * 3600}
        mounts, volumes, env = [], [], None
        if kind == "migrate":
            image = "migrate/migrate:v4.18.1"
            c = {"args": ["-path=/migrations", "-database=$(DATABASE_URL)", "up"]}
            env = [env_from_secret("DATABASE_URL", f"{app}-db", "url")]
            mounts = [{"name": "migrations", "mountPath": "/migrations", "readOnly": True}]
            volumes = [{"name": "migrations", "configMap": {"name": f"{app}-migrations"}}]
            note = ("A migration must never run twice at once, so the Job runs a single pod (parallelism 1 is the "
                    f"default) and a backoffLimit of {backoff} stops a broken migration from retrying forever; "
                    "the SQL files come read-only from the ConfigMap and the URL from the existing Secret.")
        elif kind == "reindex":
            image = "curlimages/curl:8.11.0"
            c = {"command": ["curl"], "args": ["-fsS", "--max-time", str(deadline - 60), "-X", "POST",
                                               f"http://search-api.{ns}.svc:8080/admin/reindex?index={app}"]}
            spec["podFailurePolicy"] = {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
            note = ("The podFailurePolicy ignores pods that were evicted by a node drain or preemption "
                    "(DisruptionTarget), so infrastructure churn does not use up the retry budget.")
        else:
            image = "busybox:1.37.0"
            url = f"http://thumbnailer.{ns}.svc:8080/rebuild?set={app}&shard=$(JOB_COMPLETION_INDEX)&of={completions}"
            c = {"command": ["wget"], "args": ["-q", "-O-", url]}
            spec.update({"completionMode": "Indexed", "completions": completions, "parallelism": parallelism})
            note = (f"`completionMode: Indexed` gives each of the {completions} pods a stable JOB_COMPLETION_INDEX, "
                    f"which the command passes on as the shard number, and at most {parallelism} run at once.")
        job = container(kind, image, SIZES[1], **c, env=env,
                        volumeMounts=[*mounts, {"name": "tmp", "mountPath": "/tmp"}])
        spec["template"] = {"spec": pod_spec([job], volumes=[*volumes, tmp_volume()], restartPolicy="Never")}
        manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(f"{app}-{kind}", ns), "spec": spec}
        fields = {"app": app, "ns": ns, "backoff": backoff, "deadline": deadline, "ttl_h": ttl_h,
                  "retries": plural(backoff, "time"), "failures": plural(backoff, "pod failure"),
                  "retry_n": "1 retry" if backoff == 1 else f"{backoff} retries",
                  "completions": completions, "parallelism": parallelism}
        instruction = seen.pick([t.format(**fields) for t in JOB_TEMPLATES[kind]], i)
        prose = (f"{note} `activeDeadlineSeconds: {deadline}` bounds the total run time and "
                 f"`ttlSecondsAfterFinished` removes the Job and its pods {plural(ttl_h, 'hour')} after completion. "
                 "The pod runs non-root with no service account token and a read-only root filesystem.")
        drafts.append(Draft(instruction, prose, [fence(to_yaml(manifest))]))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    seen = Distinct()
    drafts = _cronjob(rng, 10, seen) + _job(rng, 8, seen)
    return finalize(drafts, rng, "kubernetes")
