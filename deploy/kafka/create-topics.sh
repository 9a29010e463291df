#!/usr/bin/env bash
# One-shot topic creation for the compose stack (the broker has
# auto.create.topics.enable=false). Idempotent (--if-not-exists): safe to run on
# every `docker compose up`. Names and partition counts mirror
# shared.topics.Topics.all_specs(); tests/unit/deploy/test_compose.py checks that.
#
# Environment:
#   BOOTSTRAP_SERVERS    broker to talk to                       (default kafka:9092)
#   CASE_PARTITIONS      case.events, case.commands              (default 6; production 12)
#   QUEUE_PARTITIONS     queue.<department>                      (default 3)
#   COMPACTED_PARTITIONS incident.events, directory.contacts     (default 1)
#   DLQ_PARTITIONS       every <topic>.dlq                       (default 1)
#   REPLICATION_FACTOR   replicas per partition                  (default 1; production 3)
#   MIN_INSYNC_REPLICAS  min.insync.replicas per topic           (default 1; production 2)
#   TOPIC_NAMESPACE      optional prefix: topics become "<namespace>.<topic>"
#   KAFKA_TOPICS         path of kafka-topics.sh       (default /opt/kafka/bin/kafka-topics.sh)
set -euo pipefail

BOOTSTRAP_SERVERS="${BOOTSTRAP_SERVERS:-kafka:9092}"
CASE_PARTITIONS="${CASE_PARTITIONS:-6}"
QUEUE_PARTITIONS="${QUEUE_PARTITIONS:-3}"
COMPACTED_PARTITIONS="${COMPACTED_PARTITIONS:-1}"
DLQ_PARTITIONS="${DLQ_PARTITIONS:-1}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-1}"
PREFIX="${TOPIC_NAMESPACE:+${TOPIC_NAMESPACE}.}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

# Slugs of shared.enums.Department; one work queue topic each.
DEPARTMENTS=(campus-support hosting training business-consulting technical-services account-management)

topic() { # name partitions cleanup-policy
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor "$REPLICATION_FACTOR" \
    --config "cleanup.policy=$3" --config "min.insync.replicas=$MIN_INSYNC_REPLICAS"
}

create() { # base-name partitions cleanup-policy
  local name="${PREFIX}$1"
  topic "$name" "$2" "$3"
  # Its dead-letter topic: always delete policy, never compacted.
  topic "$name.dlq" "$DLQ_PARTITIONS" delete
}

create case.events "$CASE_PARTITIONS" delete
create case.commands "$CASE_PARTITIONS" delete
create incident.events "$COMPACTED_PARTITIONS" compact
create directory.contacts "$COMPACTED_PARTITIONS" compact
for department in "${DEPARTMENTS[@]}"; do
  create "queue.$department" "$QUEUE_PARTITIONS" delete
done
# Emails notify could not deliver, replayable with `python -m notify replay-dlq`.
topic "${PREFIX}notify.mail.dlq" "$DLQ_PARTITIONS" delete

echo "topics on $BOOTSTRAP_SERVERS:"
"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP_SERVERS" --list
