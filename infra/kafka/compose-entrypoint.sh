#!/usr/bin/env bash
# The Compose broker (apache/kafka image) from the same server.properties as `make up`'s:
# SASL/SCRAM and ACLs, with a second listener for the Compose network. The admin's password
# comes from KAFKA_ADMIN_PASSWORD; the controller's is new at every start (only this file uses it).
# No TLS listener here (the Compose network is the machine's own); the manifests have one.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD}"
DATA=/var/lib/kafka/data
props=/tmp/server.properties
controller="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
(umask 077 && sed \
  -e "s#@DATA_DIR@#$DATA#" -e "s#@ADMIN_PASSWORD@#$KAFKA_ADMIN_PASSWORD#g" -e "s#@CONTROLLER_PASSWORD@#$controller#g" \
  -e '/^ssl\./d' -e '/^listener\.name\.sasl_ssl\./d' \
  -e 's#^listeners=.*#listeners=SASL_PLAINTEXT://:19092,EXTERNAL://:9092,CONTROLLER://127.0.0.1:9093#' \
  -e 's#^advertised.listeners=.*#advertised.listeners=SASL_PLAINTEXT://kafka:19092,EXTERNAL://localhost:9092#' \
  -e 's#^listener.security.protocol.map=.*#listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT#' \
  /liaison/server.properties >"$props")
echo 'listener.name.external.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;' >>"$props"
if [[ ! -f "$DATA/meta.properties" ]]; then
  /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" -c "$props" \
    --add-scram "SCRAM-SHA-256=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$props"
