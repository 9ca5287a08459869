"""The Kubernetes manifests (infra/k8s/) are right without a cluster: each overlay builds with
kustomize, every core object is valid for the Kubernetes versions we support, every custom
resource is valid against the CRD of the operator version we name (infra/k8s/crds/), and the
built cluster is the one the services were tested against (topics, users, secrets, probes).

kustomize is built from the Go module proxy by `scripts/platform.sh test-deps` (make test).
"""

import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from liaison_common import kafka_access, topics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests need (podAffinityTerm.matchLabelKeys is beta and on by
# default from 1.31) and the newest that kubernetes-validate ships schemas for.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
# Secrets that an operator creates before applying (docs/kubernetes.md); the KafkaUsers' Secrets
# are written by Strimzi's user operator.
SECRETS_CREATED_BY_HAND = {"liaison-admin-token", "notify-webhook-secret", "liaison-db"}
RULES_INPUT_TOPICS = (topics.REPORTS, topics.INCIDENTS, topics.WORKGROUP_REPORTS)
WORKLOADS = ("Deployment", "StatefulSet")


def kustomize_binary() -> Path:
    found = sorted((ROOT / ".local" / "tools").glob("kustomize-*/kustomize"))
    if not found:
        pytest.fail("kustomize is missing: `scripts/platform.sh test-deps` builds it (make test does)")
    return found[-1]


@cache
def built(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [str(kustomize_binary()), "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"kustomize build {overlay}: {result.stderr}"
    return tuple(document for document in yaml.safe_load_all(result.stdout) if document)


def of_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [document for document in built(overlay) if document["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    matches = [document for document in of_kind(overlay, kind) if document["metadata"]["name"] == name]
    assert len(matches) == 1, f"{overlay}: one {kind} {name}, found {len(matches)}"
    return matches[0]


# ------------------------------------------------------------------ custom resources


BRANCHES = ("oneOf", "anyOf", "allOf")


def strict(schema: Any, *, branch: bool = False) -> Any:
    """The CRD schema with unknown fields refused where the API server would prune them, so that a
    misspelt field fails here instead of vanishing silently in the cluster.

    A branch of oneOf/anyOf/allOf is left as it is: it names only the fields it is about (Strimzi's
    volume: `oneOf: [{properties: {secret: {}, configMap: {}, …}}]`), and the object it judges
    has its own (issue 41.5: tightened, it refused every valid volume)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: [strict(item, branch=True) for item in value] if key in BRANCHES and isinstance(value, list)
        else strict(value)
        for key, value in schema.items()
    }  # fmt: skip
    if (
        not branch
        and "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the strict openAPIV3Schema of every CRD kept in infra/k8s/crds/."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((K8S / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schema = strict(version["schema"]["openAPIV3Schema"])
                    schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validation_errors(document: dict[str, Any]) -> Iterator[str]:
    api_version, kind = document["apiVersion"], document["kind"]
    name = f"{kind} {document['metadata']['name']}"
    if (api_version, kind) in crd_schemas():
        validator = jsonschema.Draft7Validator(crd_schemas()[(api_version, kind)])
        for error in validator.iter_errors(document):
            yield f"{name}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            yield f"{name}: {api_version} is neither a Kubernetes {version} kind nor a CRD in infra/k8s/crds/"
        except kubernetes_validate.ValidationError as error:
            yield f"{name} (Kubernetes {version}): {error.message}"


def test_the_crd_validation_refuses_a_misspelt_field():
    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partition": 3, "replicas": 1},
    }
    errors = list(validation_errors(topic))
    assert errors and "partition" in errors[0]
    topic["spec"] = {"partitions": "three"}
    assert any("three" in error for error in validation_errors(topic))


def test_a_valid_strimzi_volume_passes_and_a_misspelt_one_still_fails():
    """Issue 41.5: strict() tightened oneOf branches, so a valid pod-template volume was refused."""
    kafka = named("dev", "Kafka", "liaison")
    template = {"pod": {"volumes": [{"name": "extra-ca", "secret": {"secretName": "extra-ca"}}]}}
    valid = {**kafka, "spec": {**kafka["spec"], "kafka": {**kafka["spec"]["kafka"], "template": template}}}
    assert list(validation_errors(valid)) == []
    template = {"pod": {"volumes": [{"name": "extra-ca", "secrett": {"secretName": "extra-ca"}}]}}
    misspelt = {**kafka, "spec": {**kafka["spec"], "kafka": {**kafka["spec"]["kafka"], "template": template}}}
    assert list(validation_errors(misspelt))


def test_the_core_validation_refuses_a_misspelt_field():
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"a": "b"}, "port": [{"port": 80}]},
    }
    assert any("port" in error for error in validation_errors(service))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_built_object_is_valid(overlay):
    errors = [error for document in built(overlay) for error in validation_errors(document)]
    assert not errors, "\n".join(errors)


# ------------------------------------------------------------------ Kafka


def test_the_generated_kafka_resources_match_the_code():
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_kafka", K8S / "generate_kafka.py")
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for name, render in generator.FILES.items():
        committed = (K8S / "base" / name).read_text(encoding="utf-8")
        assert committed == render(), f"infra/k8s/base/{name} is stale: python infra/k8s/generate_kafka.py"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_of_the_code_is_a_kafka_topic_with_its_settings(overlay):
    by_topic = {
        document["spec"]["topicName"]: document["spec"] for document in of_kind(overlay, "KafkaTopic")
    }
    assert set(by_topic) == {spec.name for spec in topics.TOPICS}
    for spec in topics.TOPICS:
        built_spec = by_topic[spec.name]
        assert spec.config.items() <= built_spec["config"].items(), spec.name
        if spec.partitions == 1:  # one order on purpose: never widened
            assert built_spec["partitions"] == 1, spec.name
        else:
            assert built_spec["partitions"] >= spec.partitions, spec.name
    assert all(topic["replicas"] <= broker_count(overlay) for topic in by_topic.values())


def broker_count(overlay: str) -> int:
    return sum(pool["spec"]["replicas"] for pool in of_kind(overlay, "KafkaNodePool"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_user_has_exactly_the_acls_of_make_up(overlay):
    users = {document["metadata"]["name"]: document for document in of_kind(overlay, "KafkaUser")}
    assert set(users) == set(kafka_access.USERS)
    for access in kafka_access.ACCESS:
        acls = users[access.user]["spec"]["authorization"]["acls"]
        granted = {
            (
                acl["resource"]["type"],
                acl["resource"]["name"],
                acl["resource"]["patternType"],
                operation.lower(),
            )
            for acl in acls
            for operation in acl["operations"]
        }
        pattern = {"literal": "literal", "prefixed": "prefix"}  # Kafka's word, Strimzi's word
        expected = {
            (g.resource, g.name, pattern[g.pattern], g.operation) for g in kafka_access.grants(access)
        }
        assert granted == expected, access.user


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rules_never_scales_past_the_partitions_of_its_input(overlay):
    partitions = {
        document["spec"]["topicName"]: document["spec"]["partitions"]
        for document in of_kind(overlay, "KafkaTopic")
    }
    scaler = named(overlay, "ScaledObject", "rules")
    assert scaler["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert 1 <= scaler["spec"]["minReplicaCount"] <= scaler["spec"]["maxReplicaCount"]
    assert scaler["spec"]["maxReplicaCount"] <= min(partitions[topic] for topic in RULES_INPUT_TOPICS)
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["metadata"]["consumerGroup"] == "liaison-rules"
    assert trigger["metadata"]["topic"] in RULES_INPUT_TOPICS


# ------------------------------------------------------------------ workloads


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return list(pod.get("initContainers", [])) + list(pod["containers"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_written_down(overlay):
    """Secrets are references only: no Secret object, no literal credential in an environment."""
    assert not of_kind(overlay, "Secret")
    referenced: set[str] = set()
    for kind in WORKLOADS:
        for workload in of_kind(overlay, kind):
            for container in containers(workload):
                for variable in container.get("env", []):
                    name = variable["name"]
                    if any(word in name for word in ("PASSWORD", "TOKEN", "SECRET")):
                        assert "valueFrom" in variable, f"{workload['metadata']['name']}: {name} is a literal"
                    reference = variable.get("valueFrom", {}).get("secretKeyRef")
                    if reference:
                        referenced.add(reference["name"])
    kafka_users = {document["metadata"]["name"] for document in of_kind(overlay, "KafkaUser")}
    assert referenced <= SECRETS_CREATED_BY_HAND | kafka_users
    for configmap in of_kind(overlay, "ConfigMap"):
        assert not [key for key in configmap["data"] if "PASSWORD" in key or "TOKEN" in key]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_probes_resources_a_budget_and_a_monitor(overlay):
    budgets = [
        document["spec"]["selector"]["matchLabels"] for document in of_kind(overlay, "PodDisruptionBudget")
    ]
    monitored = [
        document["spec"]["selector"]["matchLabels"] for document in of_kind(overlay, "ServiceMonitor")
    ]
    service_labels = [document["metadata"].get("labels", {}) for document in of_kind(overlay, "Service")]
    names = set()
    for kind in WORKLOADS:
        for workload in of_kind(overlay, kind):
            name = workload["metadata"]["name"]
            names.add(name)
            for container in workload["spec"]["template"]["spec"]["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, name
                assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
                assert "memory" in container["resources"]["limits"], name
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert any(selector.items() <= labels.items() for selector in budgets), f"{name}: no budget"
            assert any(
                selector.items() <= service.items() and service.get("app.kubernetes.io/name") == name
                for selector in monitored
                for service in service_labels
            ), f"{name}: no ServiceMonitor"
    assert names == {"registry", "ingest", "rules", "notify", "console"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_ingest_and_the_console_are_reachable_from_outside(overlay):
    policies = of_kind(overlay, "NetworkPolicy")
    deny = named(overlay, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            if "from" not in rule:  # from anywhere
                selector = policy["spec"]["podSelector"]["matchExpressions"]
                assert selector == [
                    {"key": "app.kubernetes.io/name", "operator": "In", "values": ["ingest", "console"]}
                ], policy["metadata"]["name"]
    (listener,) = named(overlay, "Kafka", "liaison")["spec"]["kafka"]["listeners"]
    assert listener["type"] == "internal" and listener["networkPolicyPeers"], "the broker is open to all"


def test_dev_runs_one_of_everything_and_prod_spreads_more():
    def replicas(overlay: str) -> dict[str, int]:
        counts = {d["metadata"]["name"]: d["spec"].get("replicas", 1) for d in of_kind(overlay, "Deployment")}
        counts["kafka"] = broker_count(overlay)
        counts["database"] = named(overlay, "Cluster", "liaison-pg")["spec"]["instances"]
        counts["rules"] = named(overlay, "ScaledObject", "rules")["spec"]["maxReplicaCount"]
        return counts

    assert set(replicas("dev").values()) == {1}
    prod = replicas("prod")
    assert prod["kafka"] == 3 and prod["database"] == 3
    assert all(count >= 2 for count in prod.values()), prod
    for deployment in of_kind("prod", "Deployment"):
        assert deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]


def query(url: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_reaches_the_database_through_ferretdb_beside_it_and_tls_beyond(overlay):
    """Issue 41.3: FerretDB on CloudNativePG. The MongoDB wire (PLAIN: it carries the password)
    stays on the pod's loopback; the hop to PostgreSQL checks the server's certificate against
    the operator's CA; PostgreSQL refuses what is not TLS."""
    cluster = named(overlay, "Cluster", "liaison-pg")
    (config,) = [c for c in of_kind(overlay, "ConfigMap") if c["metadata"]["name"] == "liaison-config"]
    assert config["data"]["MONGODB_HOSTS"] == "127.0.0.1:27017"
    users = set()
    for workload in of_kind(overlay, "Deployment"):
        pod = workload["spec"]["template"]["spec"]
        uris = [
            v["value"] for c in containers(workload) for v in c.get("env", []) if v["name"] == "MONGODB_URI"
        ]
        sidecars = [c for c in pod.get("initContainers", []) if c["name"] == "ferretdb"]
        assert bool(uris) == bool(sidecars), (
            f"{workload['metadata']['name']}: a database user without FerretDB"
        )
        if not uris:
            continue
        (sidecar,) = sidecars
        assert pod["initContainers"][0] is sidecar  # up before the registry's seed reads
        assert sidecar["restartPolicy"] == "Always"  # a sidecar, not a step
        flags = dict(arg.removeprefix("--").split("=", 1) for arg in sidecar["args"])
        assert flags["listen-addr"] == "127.0.0.1:27017"
        url = flags["postgresql-url"]
        assert url.startswith(f"postgres://{cluster['metadata']['name']}-rw:5432/ferretdb?")
        assert query(url)["sslmode"] == "verify-full"
        (mount,) = [
            m for m in sidecar["volumeMounts"] if query(url)["sslrootcert"].startswith(m["mountPath"] + "/")
        ]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == f"{cluster['metadata']['name']}-ca"
        for uri in uris:
            user, rest = uri.removeprefix("mongodb://").split(":", 1)
            assert rest.startswith("$(MONGODB_PASSWORD)@$(MONGODB_HOSTS)/") and "PLAIN" in uri
            users.add(user)
    assert users == {cluster["spec"]["bootstrap"]["initdb"]["owner"]}
    assert cluster["spec"]["bootstrap"]["initdb"]["secret"]["name"] in SECRETS_CREATED_BY_HAND
    assert cluster["spec"]["postgresql"]["pg_hba"][0] == "hostnossl all all all reject"
    egress = named(overlay, "NetworkPolicy", "liaison-egress-within")["spec"]["egress"]
    assert any(
        peer.get("podSelector") == {"matchLabels": {"cnpg.io/cluster": "liaison-pg"}}
        and rule["ports"] == [{"port": 5432}]
        for rule in egress
        for peer in rule["to"]
    )


def test_the_cluster_gets_the_indexes_ferretdb_needs_as_make_up_does():
    """Without them every lookup by _id scans its table (infra/postgres/ferretdb-indexes.sql)."""
    local = (ROOT / "infra" / "postgres" / "ferretdb-indexes.sql").read_text(encoding="utf-8")
    assert (K8S / "base" / "ferretdb-indexes.sql").read_text(encoding="utf-8") == local
    for overlay in OVERLAYS:
        refs = named(overlay, "Cluster", "liaison-pg")["spec"]["bootstrap"]["initdb"][
            "postInitApplicationSQLRefs"
        ]
        [ref] = refs["configMapRefs"]
        [configmap] = [c for c in of_kind(overlay, "ConfigMap") if c["metadata"]["name"] == ref["name"]]
        assert configmap["data"][ref["key"]] == local


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_has_resources_a_budget_and_its_instances_apart(overlay):
    spec = named(overlay, "Cluster", "liaison-pg")["spec"]
    assert spec["enablePDB"] is True
    assert (
        spec["resources"]["requests"].keys() >= {"cpu", "memory"} and "memory" in spec["resources"]["limits"]
    )
    affinity = spec["affinity"]
    assert affinity["enablePodAntiAffinity"] is True and affinity["topologyKey"] == "kubernetes.io/hostname"
    if overlay == "prod":
        assert spec["instances"] == 3 and affinity["podAntiAffinityType"] == "required"


def min_insync_replicas(overlay: str) -> int:
    kafka = of_kind(overlay, "Kafka")[0]
    return int(kafka["spec"]["kafka"].get("config", {}).get("min.insync.replicas", 1))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_and_rules_own_topics_have_at_least_min_insync_replicas(overlay):
    """Issue 41.2: with acks=all, a topic with fewer replicas than min.insync.replicas refuses
    every write; rules' changelogs (Faust creates them) are replicated from its settings."""
    least = min_insync_replicas(overlay)
    for topic in of_kind(overlay, "KafkaTopic"):
        assert topic["spec"]["replicas"] >= least, topic["spec"]["topicName"]
        assert (
            int(topic["spec"].get("config", {}).get("min.insync.replicas", least))
            <= topic["spec"]["replicas"]
        )
    [rules] = [c for w in of_kind(overlay, "StatefulSet") for c in containers(w) if c["name"] == "rules"]
    env = {e["name"]: e.get("value") for e in rules.get("env", [])}
    replication = int(env.get("RULES_TOPIC_REPLICATION_FACTOR", "1"))
    assert least <= replication <= broker_count(overlay)
    if overlay == "prod":
        assert (replication, env.get("RULES_TABLE_STANDBY_REPLICAS")) == (3, "1")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nothing_leaves_but_dns_the_namespace_and_notifys_deliveries_to_public_addresses(overlay):
    """Issue 35.12: egress denied by default; within the namespace to the services, the broker and
    the database; DNS; notify alone reaches out, to public addresses on mail and web ports."""
    deny = named(overlay, "NetworkPolicy", "default-deny-egress")
    assert deny["spec"]["policyTypes"] == ["Egress"] and "egress" not in deny["spec"]
    assert deny["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "liaison"}}
    outward = []
    for policy in of_kind(overlay, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    outward.append((policy["spec"]["podSelector"], peer["ipBlock"], rule["ports"]))
                else:  # a selector: pods of this namespace, or the cluster's DNS
                    assert peer.keys() <= {"podSelector", "namespaceSelector"}, policy["metadata"]["name"]
                    if "namespaceSelector" in peer:
                        assert peer["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    ((selector, block, ports),) = outward
    assert selector == {"matchLabels": {"app.kubernetes.io/name": "notify"}}
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"} <= set(
        block["except"]
    )
    assert {p["port"] for p in ports} == {80, 443, 25, 465, 587}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_pod_mounts_a_service_account_token_and_ingest_holds_only_the_admin_tokens_digest(overlay):
    """Issue 35.12: no Liaison pod talks to the Kubernetes API; the internet-facing ingest pod
    holds `sha256:<digest>` of the admin token (liaison_common.tokens.is_admin_token), never it."""
    for kind in WORKLOADS:
        for workload in of_kind(overlay, kind):
            pod = workload["spec"]["template"]["spec"]
            assert pod.get("automountServiceAccountToken") is False, workload["metadata"]["name"]
    (ingest,) = [w for w in of_kind(overlay, "Deployment") if w["metadata"]["name"] == "ingest"]
    admin = [
        variable["valueFrom"]["secretKeyRef"]
        for container in containers(ingest)
        for variable in container.get("env", [])
        if variable["name"] == "LIAISON_ADMIN_TOKEN"
    ]
    assert admin == [{"name": "liaison-admin-token", "key": "sha256"}]


def test_the_kafka_version_is_one_the_strimzi_operator_supports():
    """Issue 41.1: Strimzi 1.2.0 no longer runs Kafka 4.1.x; the version asked for is checked
    against the operator's own list (vendored beside its CRDs, its default checked by fetch.sh)."""
    crds = sorted((K8S / "crds").glob("strimzi-*-kafkas.yaml"))
    strimzi = crds[0].name.split("-")[1]
    listed = yaml.safe_load(
        (K8S / "crds" / f"strimzi-{strimzi}-kafka-versions.yaml").read_text(encoding="utf-8")
    )
    supported = {entry["version"] for entry in listed["versions"] if entry["supported"]}
    assert "4.1.0" not in supported and supported  # the list says what the issue found
    for overlay in OVERLAYS:
        version = named(overlay, "Kafka", "liaison")["spec"]["kafka"]["version"]
        assert version in supported, f"{overlay}: Strimzi {strimzi} does not run Kafka {version}"


def keda_kafka_parameters() -> dict[str, dict[str, Any]]:
    path = next((K8S / "crds").glob("keda-*-kafka-scaler-parameters.yaml"))
    return {p["name"]: p for p in yaml.safe_load(path.read_text(encoding="utf-8"))["parameters"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_keda_kafka_trigger_names_only_parameters_keda_reads_with_values_it_takes(overlay):
    """Issue 41.5: KEDA ignores a misspelt key silently and refuses a bad value at run time; the
    keys and values are checked against the Kafka scaler's own parameter list (from its source)."""
    parameters = keda_kafka_parameters()
    for scaled in of_kind(overlay, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            for key, value in trigger["metadata"].items():
                assert key in parameters, f"KEDA's Kafka scaler has no parameter {key!r}"
                spec = parameters[key]
                assert "triggerMetadata" in spec["order"], f"{key} is not read from the trigger's metadata"
                assert isinstance(value, str), f"{key}: trigger metadata values are strings"
                if "enum" in spec:
                    assert value in spec["enum"], f"{key}={value!r} not in {spec['enum']}"
                if spec["type"] == "bool":
                    assert value in ("true", "false"), f"{key}={value!r}"
                if spec["type"] in ("int64", "int"):
                    assert int(value) >= 0, f"{key}={value!r}"
            for required in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
                assert required in trigger["metadata"], required
            auth = named(overlay, "TriggerAuthentication", trigger["authenticationRef"]["name"])
            for reference in auth["spec"]["secretTargetRef"]:
                spec = parameters[reference["parameter"]]
                assert "authParams" in spec["order"], f"{reference['parameter']} is not an auth parameter"


def cel_rules(schema: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every x-kubernetes-validations rule of a CRD schema, with the path of the object it judges."""
    if not isinstance(schema, dict):
        return
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule
    for name, child in (schema.get("properties") or {}).items():
        yield from cel_rules(child, (*path, name))


def test_the_crds_cel_rules_hold_for_every_built_object():
    """Issue 41.5: the API server evaluates the CRDs' CEL rules (KEDA's min ≤ max replicas,
    Strimzi's listener and user rules); a manifest that breaks one is refused at apply time."""
    import celpy

    environment = celpy.Environment()
    checked = 0
    rules_by_kind: dict[tuple[str, str], list[tuple[tuple[str, ...], dict[str, Any]]]] = {}
    for path in sorted((K8S / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                rules_by_kind[key] = list(cel_rules(version["schema"]["openAPIV3Schema"]))
    for overlay in OVERLAYS:
        for document in built(overlay):
            for where, rule in rules_by_kind.get(
                (document.get("apiVersion", ""), document.get("kind", "")), []
            ):
                target: Any = document
                for step in where:
                    target = target.get(step) if isinstance(target, dict) else None
                if not isinstance(target, dict):
                    continue  # the object the rule judges is not there
                program = environment.program(environment.compile(rule["rule"]))
                holds = program.evaluate({"self": celpy.json_to_cel(target)})
                assert holds, (
                    f"{overlay}: {document['kind']} {document['metadata']['name']}: {rule.get('message')}"
                )
                checked += 1
    assert checked, "no CEL rule was evaluated"
    # And the rule does refuse what it should: KEDA's min ≤ max.
    (where, rule), *_ = [
        r for r in rules_by_kind[("keda.sh/v1alpha1", "ScaledObject")] if "minReplicaCount" in r[1]["rule"]
    ]
    program = environment.program(environment.compile(rule["rule"]))
    assert not program.evaluate({"self": celpy.json_to_cel({"minReplicaCount": 5, "maxReplicaCount": 3})})


# The rules worker's own memory apart from RocksDB: 143 MB at most measured on a lived-in
# installation (docs/benchmarks.md, bench-scale), with room to spare.
RULES_PYTHON_BYTES = 256 * 1024**2


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rocksdb_and_the_worker_fit_the_rules_pods_memory_limit(overlay):
    """Issue 41.4: Faust's RocksDB defaults (a 2 GiB block cache and 3 × 64 MiB write buffers per
    table partition) would outgrow the pod and have it killed; the worker's settings bound them.
    The bound is for a worker that holds every partition, active and standby."""
    from services.rules.config import Settings

    [workload] = [w for w in of_kind(overlay, "StatefulSet") if w["metadata"]["name"] == "rules"]
    [rules] = [c for c in containers(workload) if c["name"] == "rules"]
    env = {e["name"]: e["value"] for e in rules.get("env", []) if "value" in e}
    settings = Settings(
        **{k.removeprefix("RULES_").lower(): v for k, v in env.items() if k.startswith("RULES_")}
    )
    partitions = next(
        t["spec"]["partitions"]
        for t in of_kind(overlay, "KafkaTopic")
        if t["spec"]["topicName"] == topics.REPORTS
    )
    bound = settings.rocksdb_memory_bound(partitions)
    limit = memory_bytes(rules["resources"]["limits"]["memory"])
    assert bound + RULES_PYTHON_BYTES <= limit, (
        f"RocksDB may hold {bound / 1024**2:.0f} MiB beside the worker's {RULES_PYTHON_BYTES / 1024**2:.0f}: "
        f"over the pod's {limit / 1024**2:.0f} MiB"
    )
    # Faust's defaults would not fit: the bound means something.
    assert Settings(rocksdb_block_cache_bytes=2 * 1024**3).rocksdb_memory_bound(partitions) > limit


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_client_reaches_kafka_over_tls_and_checks_the_brokers_certificate(overlay):
    """Issue 41.4: the records carry bearer tokens. The only listener is TLS, every client is
    pointed at it with the cluster CA mounted where KAFKA_SSL_CAFILE says, KEDA too."""
    kafka = of_kind(overlay, "Kafka")[0]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [listener["tls"] for listener in listeners] == [True] * len(listeners)
    port = listeners[0]["port"]
    config = named(overlay, "ConfigMap", "liaison-config")["data"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{port}")
    cafile = Path(config["KAFKA_SSL_CAFILE"])
    for kind in WORKLOADS:
        for workload in of_kind(overlay, kind):
            pod = workload["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for container in pod["containers"]:
                mounts = [
                    m for m in container.get("volumeMounts", []) if m["mountPath"] == str(cafile.parent)
                ]
                assert mounts, f"{container['name']}: no CA at {cafile.parent}"
                secret = volumes[mounts[0]["name"]]["secret"]
                assert secret["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
                assert {"key": "ca.crt", "path": cafile.name} in secret["items"]
    for scaled in of_kind(overlay, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["tls"] == "enable"
            assert trigger["metadata"]["bootstrapServers"].endswith(f":{port}")
            auth = named(overlay, "TriggerAuthentication", trigger["authenticationRef"]["name"])
            assert any(ref["parameter"] == "ca" for ref in auth["spec"]["secretTargetRef"])
    egress = [
        rule for policy in of_kind(overlay, "NetworkPolicy") for rule in policy["spec"].get("egress", [])
    ]
    kafka_ports = {
        p["port"] for rule in egress for p in rule.get("ports", [])
        if any(peer.get("podSelector", {}).get("matchLabels", {}).get("strimzi.io/cluster") for peer in rule["to"])
    }  # fmt: skip
    assert kafka_ports == {port}


def test_prod_spreads_each_partitions_replicas_over_zones():
    kafka = of_kind("prod", "Kafka")[0]["spec"]["kafka"]
    assert kafka["rack"]["topologyKey"] == "topology.kubernetes.io/zone"
    assert int(kafka["config"]["default.replication.factor"]) == 3
