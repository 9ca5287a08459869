"""Who this process is on the broker: the SASL settings every Kafka client here is built with.

The broker `make up` runs authenticates every client with SASL/SCRAM-SHA-256 and gives each
service a user of its own with only its topics (liaison_common.kafka_access). A process is one
user, so the credentials come from its environment, not from each caller:

    KAFKA_USERNAME, KAFKA_PASSWORD   the user (both unset: PLAINTEXT, no authentication)
    KAFKA_SASL_MECHANISM             SCRAM-SHA-256 (the default) or SCRAM-SHA-512 or PLAIN
    KAFKA_SSL_CAFILE                 the CA that signed the brokers' certificates: TLS (SASL_SSL),
                                     the broker's certificate and host name checked against it

The Kubernetes manifests connect over TLS (Strimzi's cluster CA); `make up`'s broker listens
with TLS on 127.0.0.1:9096 too (its CA in .local/secrets/kafka-ca.crt).
"""

import functools
import os
import ssl
from pathlib import Path
from typing import Any

DEFAULT_MECHANISM = "SCRAM-SHA-256"
LOCAL_ADMIN_PROPERTIES = Path(__file__).resolve().parents[1] / ".local" / "secrets" / "kafka-admin.properties"


def kafka_auth() -> dict[str, Any]:
    """Keyword arguments for a kafka-python or aiokafka client (the two name them alike)."""
    username = os.environ.get("KAFKA_USERNAME", "")
    cafile = os.environ.get("KAFKA_SSL_CAFILE", "")
    tls: dict[str, Any] = {"ssl_context": tls_context(cafile)} if cafile else {}
    if not username:
        return {"security_protocol": "SSL", **tls} if tls else {}
    return {
        "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl_mechanism": os.environ.get("KAFKA_SASL_MECHANISM", DEFAULT_MECHANISM),
        "sasl_plain_username": username,
        "sasl_plain_password": os.environ.get("KAFKA_PASSWORD", ""),
        **tls,
    }


@functools.cache
def tls_context(cafile: str) -> ssl.SSLContext:
    """A client context that trusts only `cafile` and checks the broker's host name (one per
    file: every client of the process shares it)."""
    if not os.path.isfile(cafile):
        raise ValueError(f"KAFKA_SSL_CAFILE: no such file: {cafile}")
    return ssl.create_default_context(cafile=cafile)


def faust_credentials() -> Any:
    """The same user for a Faust app (`broker_credentials`); None for PLAINTEXT."""
    auth = kafka_auth()
    if not auth:
        return None
    import faust

    if "sasl_plain_username" not in auth:
        return faust.SSLCredentials(auth["ssl_context"])
    return faust.SASLCredentials(
        username=auth["sasl_plain_username"],
        password=auth["sasl_plain_password"],
        mechanism=auth["sasl_mechanism"],
        ssl_context=auth.get("ssl_context"),
    )


def read_properties(path: str) -> dict[str, str]:
    """A librdkafka properties file (`key=value` lines, `#` comments) as a dict."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def environment_from_properties(path: str) -> dict[str, str]:
    """KAFKA_USERNAME / KAFKA_PASSWORD / KAFKA_SASL_MECHANISM from a librdkafka properties file
    (the files `make up` writes into .local/secrets/)."""
    values = read_properties(path)
    if "sasl.username" not in values:
        return {}
    return {
        "KAFKA_USERNAME": values["sasl.username"],
        "KAFKA_PASSWORD": values.get("sasl.password", ""),
        "KAFKA_SASL_MECHANISM": values.get("sasl.mechanisms", DEFAULT_MECHANISM),
    }


def use_local_kafka_admin() -> None:
    """For tools run by hand on the machine of `make up` (tests, benchmarks, the demo, topic
    creation): connect as the local broker's admin, from the properties file `make up` writes,
    unless KAFKA_USERNAME already says who this process is."""
    if not os.environ.get("KAFKA_USERNAME") and LOCAL_ADMIN_PROPERTIES.exists():
        os.environ.update(environment_from_properties(str(LOCAL_ADMIN_PROPERTIES)))
