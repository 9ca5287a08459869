#!/usr/bin/env bash
# Fetch the custom resource definitions that tests/infra/test_k8s.py validates the manifests
# against, each from the registry its project publishes to, at a pinned version. Run it from
# anywhere; it rewrites the files beside it. Needs curl, unzip, Maven and a JDK 21 or newer
# (Strimzi's CRD generator is built for Java 21; JAVA21 names its java binary).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
GOPROXY_URL="${GOPROXY_URL:-https://proxy.golang.org}"
STRIMZI=1.2.0 KEDA=2.21.0 PROMETHEUS_OPERATOR=0.85.0 CLOUDNATIVE_PG=1.30.1
JAVA21="${JAVA21:-$(ls -d /usr/lib/jvm/temurin-2*/bin/java 2>/dev/null | tail -1)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

from_go_module() {  # module version path-in-module target
  local zip="$WORK/$(echo "$1" | tr / _)-$2.zip"
  [[ -f "$zip" ]] || curl -fsS -m 300 -o "$zip" "$GOPROXY_URL/$1/@v/v$2.zip"
  unzip -p "$zip" "$1@v$2/$3" >"$HERE/$4"
  echo "wrote $4 (Go module $1 v$2, $3)"
}

# KEDA, the Prometheus operator and CloudNativePG keep their CRDs in their
# Go modules, which the Go module proxy serves as zips.
from_go_module github.com/kedacore/keda/v2 "$KEDA" config/crd/bases/keda.sh_scaledobjects.yaml \
  "keda-$KEDA-scaledobjects.yaml"
from_go_module github.com/kedacore/keda/v2 "$KEDA" config/crd/bases/keda.sh_triggerauthentications.yaml \
  "keda-$KEDA-triggerauthentications.yaml"
# The parameters KEDA's Kafka scaler reads, from its own source (the tags of kafka_scaler.go).
unzip -p "$WORK/github.com_kedacore_keda_v2-$KEDA.zip" "github.com/kedacore/keda/v2@v$KEDA/pkg/scalers/kafka_scaler.go" \
  | python3 "$HERE/keda_scaler_parameters.py" >"$HERE/keda-$KEDA-kafka-scaler-parameters.yaml"
echo "wrote keda-$KEDA-kafka-scaler-parameters.yaml (KEDA v$KEDA, pkg/scalers/kafka_scaler.go)"
from_go_module github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR" \
  example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
  "prometheus-operator-$PROMETHEUS_OPERATOR-servicemonitors.yaml"
# CloudNativePG: the proxy lists no versions of it (403), but serves each tagged one.
from_go_module github.com/cloudnative-pg/cloudnative-pg "$CLOUDNATIVE_PG" \
  config/crd/bases/postgresql.cnpg.io_clusters.yaml "cloudnative-pg-$CLOUDNATIVE_PG-clusters.yaml"

# Strimzi generates its CRDs from the model classes of io.strimzi:api with io.strimzi:crd-generator
# (both on Maven Central), with the arguments of its own api/pom.xml.
cat >"$WORK/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>liaison</groupId><artifactId>strimzi-crds</artifactId><version>1</version><dependencies>
<dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI</version></dependency>
<dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI</version></dependency>
</dependencies></project>
POM
(cd "$WORK" && mvn -q dependency:build-classpath -Dmdep.outputFile=classpath.txt)
model=io.strimzi.api.kafka.model
"$JAVA21" -cp "$(cat "$WORK/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "$model.kafka.Kafka=$HERE/strimzi-$STRIMZI-kafkas.yaml" \
  "$model.nodepool.KafkaNodePool=$HERE/strimzi-$STRIMZI-kafkanodepools.yaml" \
  "$model.topic.KafkaTopic=$HERE/strimzi-$STRIMZI-kafkatopics.yaml" \
  "$model.user.KafkaUser=$HERE/strimzi-$STRIMZI-kafkausers.yaml"
echo "wrote strimzi-$STRIMZI-*.yaml (io.strimzi:crd-generator $STRIMZI over io.strimzi:api $STRIMZI)"

# The Kafka version Strimzi runs by default: its parent POM's kafka.version must be the default
# of strimzi-$STRIMZI-kafka-versions.yaml (transcribed from the operator's own kafka-versions.yaml).
default_kafka="$(curl -fsS -m 120 "https://repo.maven.apache.org/maven2/io/strimzi/strimzi/$STRIMZI/strimzi-$STRIMZI.pom" \
  | sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' | head -1)"
grep -q "version: $default_kafka, supported: true, default: true" "$HERE/strimzi-$STRIMZI-kafka-versions.yaml" \
  || { echo "Strimzi $STRIMZI's POM says Kafka $default_kafka: update strimzi-$STRIMZI-kafka-versions.yaml" >&2; exit 1; }
echo "checked strimzi-$STRIMZI-kafka-versions.yaml against the POM's Kafka $default_kafka"

