"""Terraform examples for Google Cloud Pub/Sub: CMEK topics, pull subscriptions and dead-lettering."""

import random

from corpus.iac.terraform_gcp import (
    ENVS,
    REGIONS,
    TEAMS,
    Distinct,
    attrs,
    draft,
    finish,
    header,
    template_order,
    upper_first,
    variable,
)

# (topic, consumer, what flows through it)
PUBSUB_STREAMS = [
    ("orders", "fulfilment-worker", "new order events"),
    ("payments", "ledger-writer", "payment status changes"),
    ("signups", "welcome-mailer", "user sign-up events"),
    ("inventory", "stock-sync", "inventory updates from the warehouses"),
    ("shipments", "tracking-notifier", "shipment tracking events"),
    ("audit", "siem-forwarder", "application audit events"),
    ("thumbnails", "image-resizer", "image resize requests"),
    ("invoices", "invoice-renderer", "invoice generation jobs"),
]


def pubsub_family(rng: random.Random, seen: Distinct, count: int = 7) -> list[dict]:
    drafts = []
    for i, (topic, consumer, what) in zip(template_order(rng, count, 5), rng.sample(PUBSUB_STREAMS, count),
                                          strict=True):
        region = rng.choice(REGIONS)
        team, env = rng.choice(TEAMS), rng.choice(ENVS)
        ack = rng.choice([20, 30, 60, 120, 300])
        attempts = rng.choice([5, 7, 10, 15])
        retention_days = rng.choice([1, 3, 7])
        max_backoff = rng.choice([300, 600])
        ordering = rng.random() < 0.4
        exactly_once = rng.random() < 0.4
        ident = topic.replace("-", "_")
        sub = consumer.replace("-", "_")
        code = (
            header(region, default_labels={"team": team, "env": env}) + "\n"
            + variable("kms_key_id", "Cloud KMS crypto key for the topics.") + "\n"
            + variable("consumer_service_account", f"Email of the service account running {consumer}.") + "\n"
            + 'data "google_project" "current" {}\n\nlocals {\n'
            '  pubsub_agent = "serviceAccount:service-${data.google_project.current.number}'
            '@gcp-sa-pubsub.iam.gserviceaccount.com"\n}\n\n'
            "# Pub/Sub encrypts on the topics' behalf, so its service agent needs the key.\n"
            'resource "google_kms_crypto_key_iam_member" "pubsub_cmek" {\n  crypto_key_id = var.kms_key_id\n'
            '  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"\n'
            "  member        = local.pubsub_agent\n}\n\n"
            'resource "google_pubsub_topic" "this" {\n'
            f'  for_each = toset(["{topic}", "{topic}-dead-letter"])\n\n'
            "  name         = each.key\n  kms_key_name = var.kms_key_id\n\n"
            f'  message_storage_policy {{\n    allowed_persistence_regions = ["{region}"]\n  }}\n\n'
            "  depends_on = [google_kms_crypto_key_iam_member.pubsub_cmek]\n}\n\n"
            f'resource "google_pubsub_subscription" "{sub}" {{\n'
            + attrs([("name", f'"{consumer}"'), ("topic", f'google_pubsub_topic.this["{topic}"].id'),
                     ("ack_deadline_seconds", str(ack)),
                     ("message_retention_duration", f'"{retention_days * 86400}s"'),
                     *([("enable_message_ordering", "true")] if ordering else []),
                     *([("enable_exactly_once_delivery", "true")] if exactly_once else [])])
            + '\n  expiration_policy {\n    ttl = ""\n  }\n\n'
            f'  retry_policy {{\n    minimum_backoff = "10s"\n    maximum_backoff = "{max_backoff}s"\n  }}\n\n'
            "  dead_letter_policy {\n"
            f'    dead_letter_topic     = google_pubsub_topic.this["{topic}-dead-letter"].id\n'
            f"    max_delivery_attempts = {attempts}\n  }}\n}}\n\n"
            "# The service agent moves failed messages: it publishes to the dead-letter topic and acks here.\n"
            'resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {\n'
            f'  topic  = google_pubsub_topic.this["{topic}-dead-letter"].id\n'
            '  role   = "roles/pubsub.publisher"\n  member = local.pubsub_agent\n}\n\n'
            'resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {\n'
            f"  subscription = google_pubsub_subscription.{sub}.id\n"
            '  role         = "roles/pubsub.subscriber"\n  member       = local.pubsub_agent\n}\n\n'
            'resource "google_pubsub_subscription_iam_member" "consumer" {\n'
            f"  subscription = google_pubsub_subscription.{sub}.id\n"
            '  role         = "roles/pubsub.subscriber"\n'
            '  member       = "serviceAccount:${var.consumer_service_account}"\n}\n'
        )
        features = []
        if ordering:
            features.append("ordered delivery")
        if exactly_once:
            features.append("exactly-once delivery")
        feature_text = f" Enable {' and '.join(features)}." if features else ""
        old_setup = (f'resource "google_pubsub_topic" "{ident}" {{\n  name = "{topic}"\n}}\n\n'
                     f'resource "google_pubsub_subscription" "{sub}" {{\n  name  = "{consumer}"\n'
                     f"  topic = google_pubsub_topic.{ident}.id\n}}\n")
        instruction, input_text = seen.pick([
            (f"Create a Pub/Sub topic `{topic}` for {what} and a pull subscription `{consumer}`. "
             f"After {attempts} failed deliveries messages should go to a dead-letter topic. Ack "
             f"deadline {ack}s, keep unacked messages {retention_days} day(s), CMEK on both topics.", ""),
            (f"Terraform: {what} are published to `{topic}`; the {consumer} service pulls them. Add "
             f"exponential retry backoff up to {max_backoff}s, dead-lettering after {attempts} "
             f"attempts, customer-managed encryption, and keep data in {region}.", ""),
            (f"Set up messaging for {what}: topic, subscription for {consumer} with a dead-letter "
             f"topic (max {attempts} delivery attempts), CMEK, and subscriber access only for the "
             "consumer's service account.", ""),
            (f"Add a dead-letter topic (max {attempts} attempts), retry backoff, KMS encryption and "
             f"least-privilege IAM to this Pub/Sub setup for {what}.", old_setup),
            (f"The {consumer} worker keeps choking on some {what}. Give its subscription a {ack}-second ack "
             f"deadline, park poison messages in a dead-letter topic after {attempts} tries, and store "
             f"messages only in {region}.", ""),
        ], i, feature_text)
        prose = [
            f"Messages that fail {attempts} deliveries move to `{topic}-dead-letter` instead of being retried "
            "forever, with exponential backoff between attempts.",
            "Dead-lettering is performed by the Pub/Sub service agent, so it gets publisher on the dead-letter "
            "topic and subscriber on the source subscription; without those grants messages are silently "
            "retried instead.",
            f"Both topics are encrypted with your KMS key and message storage is pinned to {region}.",
        ]
        if ordering or exactly_once:
            prose.append(f"{upper_first(' and '.join(features))} are enabled on the subscription as asked; "
                         "consumers must still be idempotent when they redeploy.")
        drafts.append(draft(instruction, prose, code, input_text))
    return drafts


def examples(rng: random.Random) -> list[dict]:
    return finish(pubsub_family(rng, Distinct()), rng)
