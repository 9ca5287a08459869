"""A whole Liaison of its own for the fault suite: its own Kafka broker, FerretDB and services.

The fault tests stop the broker, restart the database and kill workers; doing that to the
platform `make up` runs would break it for its user and for the other tests. So the suite
starts a second installation on free ports, from the same jars, FerretDB binary and code, with
its data in a temporary folder, and stops every process it started (by the Popen it holds).
"""

import base64
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from liaison_client.local import DATABASE_USER, local_secret
from liaison_common.kafka_access import ADMIN_USER, USERS, password_file, read_or_create_password
from tests.conftest import REPO

KAFKA_LIBS = REPO / ".local" / "kafka" / "libs"
FERRETDB = REPO / ".local" / "bin" / "ferretdb-local"
POSTGRES_PORT = 5433  # the local cluster under .local/postgres (scripts/platform.sh)
ADMIN_TOKEN = "fault-suite-admin-token-" + uuid.uuid4().hex[:12]
WEBHOOK_SECRET = "fault-suite-webhook-secret"


def free_port() -> int:
    """A port free now, below Linux's ephemeral range (32768-60999): a port the kernel hands out
    (bind to 0) is one it may hand out again as the source port of any outgoing connection
    before our process binds it, and a full make test once lost notify's that way ("address
    already in use")."""
    while True:
        port = random.randrange(20000, 32768)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Process:
    """One process of the cluster: how to start it and how to know it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[], bool]
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, timeout: float = 120, *, wait: bool = True) -> None:
        assert not self.alive, f"{self.name} is already running"
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts + 1} of {self.name} at {time.ctime()}\n".encode())
            self.popen = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if not self.alive:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.tail()}")
            time.sleep(0.3)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, as an operator stopping it would; SIGKILL if it does not go."""
        if self.alive:
            assert self.popen is not None
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last commit, as a crash would."""
        if self.alive:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=15)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def http_ready(port: int, path: str = "/healthz") -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return ready


@dataclass
class Cluster:
    root: Path
    # KRaft nodes, each broker and controller: 1, or 3 with every topic replicated 3 times and
    # min.insync.replicas 2 (as the prod overlay), named kafka, kafka-2, kafka-3.
    brokers: int = 1
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def broker_names(self) -> list[str]:
        return ["kafka"] + [f"kafka-{n}" for n in range(2, self.brokers + 1)]

    # ------------------------------------------------------------ addresses

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.ports[name]}" for name in self.broker_names)

    def postgresql_url(self) -> str:
        """A PostgreSQL database of its own on the local cluster that `make up` runs (CREATE DATABASE once)."""
        name = f"faults_{self.root.name.replace('-', '_')}_{os.getpid()}"
        if not getattr(self, "_database_created", False):
            bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
            server = ["-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", "postgres"]
            # The local cluster asks for passwords (scram-sha-256): the superuser's makes the
            # database, owned by the application user FerretDB connects as.
            pg_env = {**os.environ, "PGPASSWORD": local_secret("postgres-password") or ""}
            for attempt in range(5):
                # createdb copies template1 and refuses while another session is connected to it
                # (seen once, briefly): try again, and name PostgreSQL's reason if it persists.
                made = subprocess.run(
                    [str(bin_dir / "createdb"), *server, "-O", DATABASE_USER, name],
                    capture_output=True,
                    text=True,
                    env=pg_env,
                )
                if made.returncode == 0:
                    break
                time.sleep(1 + attempt)
            else:
                raise RuntimeError(f"createdb {name} failed: {made.stderr.strip()}")
            # The same indexes as `make up`'s database: the faults run on what users run.
            indexes = REPO / "infra" / "postgres" / "ferretdb-indexes.sql"
            subprocess.run([str(bin_dir / "psql"), *server, "-d", name, "-q", "-v", "ON_ERROR_STOP=1", "-f",
                            str(indexes)], check=True, capture_output=True, env=pg_env)  # fmt: skip
            self._database_created = True
        # The fault cluster's own FerretDB connects as the application user by default, so that
        # its clients need no credentials (a test cluster, on ports of its own, for the run only).
        password = quote(local_secret("database-password") or "", safe="")
        return f"postgres://{DATABASE_USER}:{password}@127.0.0.1:{POSTGRES_PORT}/{name}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.ports['ferretdb']}/liaison"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    # ------------------------------------------------------------ set-up

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REGISTRY_", "INGEST_", "RULES_", "NOTIFY_", "CONSOLE_"))
        }
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "MONGODB_URI": self.mongodb_uri,
                "LIAISON_ADMIN_TOKEN": ADMIN_TOKEN,
                "PYTHONUNBUFFERED": "1",
                "KAFKA_USERNAME": ADMIN_USER,
                "KAFKA_PASSWORD": os.environ.get("KAFKA_PASSWORD", ""),
            }
        )
        return env

    def kafka_user(self, service: str) -> dict[str, str]:
        """The service's own broker user (created by kafka_access in start())."""
        password = password_file(self.root / "secrets", service).read_text().strip()
        return {"KAFKA_USERNAME": service, "KAFKA_PASSWORD": password}

    def controller_port(self, broker: str) -> int:
        return self.ports["controller" if broker == "kafka" else f"{broker}-controller"]

    def node_properties(self, text: str, node: int) -> str:
        """server.properties of KRaft node `node` (1-based): its ports, data and quorum; with
        three nodes, every topic replicated three times and written to two at least."""
        broker = self.broker_names[node - 1]
        port, controller = self.ports[broker], self.controller_port(broker)
        voters = ",".join(
            f"{n}@127.0.0.1:{self.controller_port(b)}" for n, b in enumerate(self.broker_names, 1)
        )
        data = self.root / ("kafka" if node == 1 else f"kafka-{node}")
        settings = {
            "node.id": str(node),
            "controller.quorum.voters": voters,
            "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
            "log.dirs": str(data),
        }
        if self.brokers >= 3:
            settings |= {
                "offsets.topic.replication.factor": "3",
                "transaction.state.log.replication.factor": "3",
                "transaction.state.log.min.isr": "2",
                "default.replication.factor": "3",
                "min.insync.replicas": "2",
            }
        lines = []
        for line in text.splitlines():
            key = line.split("=", 1)[0]
            lines.append(f"{key}={settings[key]}" if key in settings and not line.startswith("#") else line)
        return "\n".join(lines) + "\n"

    def prepare(self) -> None:
        if not KAFKA_LIBS.is_dir() or not FERRETDB.exists():
            raise RuntimeError(
                "Kafka's jars or FerretDB are missing: run `make install` (or `make up`) first"
            )
        names = (
            "kafka",
            "controller",
            "ferretdb",
            "registry",
            "ingest",
            "rules",
            "notify",
            "notify-2",
            "registry-fuzz",
            "rules-2",
            *(f"{broker}-controller" for broker in self.broker_names[1:]),
            *self.broker_names[1:],
        )
        for name in names:
            self.ports[name] = free_port()
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        text = (REPO / "infra" / "kafka" / "server.properties").read_text()
        # No TLS listener: the fault suite's clients use the plain one (tests/e2e checks TLS).
        text = "".join(
            line
            for line in text.splitlines(keepends=True)
            if not line.startswith(("ssl.", "listener.name.sasl_ssl."))
        ).replace(",SASL_SSL://127.0.0.1:9096", "")
        # The same SASL/SCRAM broker as `make up`'s: the suite's process is its admin (the
        # platform's admin password when conftest found one, else a new one), each service its
        # own user with only its ACLs (liaison_common.kafka_access, in start()).
        if os.environ.get("KAFKA_USERNAME") != ADMIN_USER or not os.environ.get("KAFKA_PASSWORD"):
            os.environ.update(KAFKA_USERNAME=ADMIN_USER, KAFKA_PASSWORD=secrets.token_urlsafe(24))
        admin_password = os.environ["KAFKA_PASSWORD"]
        text = text.replace("@ADMIN_PASSWORD@", admin_password).replace(
            "@CONTROLLER_PASSWORD@", secrets.token_urlsafe(24)
        )
        java = ["java", "-Xms128m", "-Xmx768m",
                f"-Dlog4j.configuration=file:{REPO / 'infra' / 'kafka' / 'log4j.properties'}",
                "-cp", f"{KAFKA_LIBS}/*"]  # fmt: skip
        cluster_id = "-"
        while cluster_id.startswith("-"):  # the storage tool would take it for an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        env = self.base_env()
        for node, name in enumerate(self.broker_names, start=1):
            props = self.root / ("server.properties" if node == 1 else f"server-{node}.properties")
            props.write_text(self.node_properties(text, node))
            props.chmod(0o600)
            subprocess.run(
                [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                 "--add-scram", f"SCRAM-SHA-256=[name={ADMIN_USER},password={admin_password}]"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            port = self.ports[name]
            self.processes[name] = Process(
                name, [*java, "kafka.Kafka", str(props)], env, logs / f"{name}.log",
                lambda port=port: port_open(port),  # type: ignore[misc]
            )  # fmt: skip
        for user in USERS:  # the passwords first: the services' environments name them
            read_or_create_password(self.root / "secrets", user)
        mongo_port = self.ports["ferretdb"]
        self.processes["ferretdb"] = Process(
            "ferretdb",
            [str(FERRETDB), "--listen-addr", f"127.0.0.1:{mongo_port}", "--postgresql-url", self.postgresql_url()],
            env, logs / "ferretdb.log", lambda: port_open(mongo_port),
        )  # fmt: skip
        uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--no-access-log"]
        for name, module in (("registry", "registry"), ("ingest", "ingest"), ("notify", "notify"),
                             ("notify-2", "notify")):  # fmt: skip
            port = self.ports[name]
            service_env = {**env, **self.service_env(module), **self.kafka_user(module)}
            self.processes[name] = Process(
                name, [*uvicorn, f"services.{module}.app:create_app", "--port", str(port)],
                service_env, logs / f"{name}.log", http_ready(port),
            )  # fmt: skip
        # A registry for schemathesis to write to: a database of its own, nothing published.
        fuzz_port = self.ports["registry-fuzz"]
        self.processes["registry-fuzz"] = Process(
            "registry-fuzz", [*uvicorn, "services.registry.app:create_app", "--port", str(fuzz_port)],
            {**env, **self.kafka_user("registry"), "MONGODB_URI": self.mongodb_uri + "_fuzz",
             "REGISTRY_PUBLISH_ENABLED": "false"},
            logs / "registry-fuzz.log", http_ready(fuzz_port),
        )  # fmt: skip
        for name in ("rules", "rules-2"):  # rules-2: a second worker, started by the tests that need one
            rules_port = self.ports[name]
            self.processes[name] = Process(
                name,
                [sys.executable, "-m", "services.rules", "worker", "-l", "info", "--web-port", str(rules_port)],
                {**env, **self.service_env("rules"), **self.kafka_user("rules"),
                 "RULES_DATADIR": str(self.root / f"{name}-data"), "RULES_WEB_PORT": str(rules_port)},
                logs / f"{name}.log", http_ready(rules_port),
            )  # fmt: skip

    def service_env(self, module: str) -> dict[str, str]:
        if module == "rules":
            return {
                "RULES_DATADIR": str(self.root / "rules-data"),
                "RULES_WEB_PORT": str(self.ports["rules"]),
                "RULES_OVERDUE_CHECK_SECONDS": "2",
                # Its changelog, leader and region topics replicated as the others are.
                "RULES_TOPIC_REPLICATION_FACTOR": "3" if self.brokers >= 3 else "1",
            }
        if module == "notify":
            return {
                "NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "NOTIFY_GROUP_WAIT_SECONDS": "1",
                # A receiver away for a minute is retried at least every 5 s, so the test ends soon
                # after it returns (the default cap is 5 minutes).
                "NOTIFY_RETRY_MAX_SECONDS": "5",
                "NOTIFY_ESCALATION_DELAY_SECONDS": "86400",
            }
        if module == "registry":
            return {"REGISTRY_ALLOW_PRIVATE_WEBHOOKS": "true"}  # the test receivers are on loopback
        return {}

    def start(self, progress: Callable[[str], None] = print) -> None:
        self.prepare()
        progress(f"fault cluster in {self.root}: Kafka {self.bootstrap}, FerretDB :{self.ports['ferretdb']}")
        # All the nodes at once: one alone has no quorum (two of three voters) and never opens.
        for broker in self.broker_names:
            self[broker].start(wait=False)
        for broker in self.broker_names:
            self[broker].wait_ready()
        self["ferretdb"].start()
        env = {**self.base_env(), "LIAISON_TOPIC_REPLICATION": "3" if self.brokers >= 3 else "1"}
        subprocess.run([sys.executable, "-m", "liaison_common.kafka_access", "--secrets", str(self.root / "secrets"),
                        "--bootstrap", self.bootstrap], cwd=REPO, env=env, check=True, capture_output=True,
                       timeout=120)  # fmt: skip
        subprocess.run([sys.executable, "-m", "liaison_common.topics"], cwd=REPO, env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        subprocess.run([sys.executable, "-m", "services.registry.seed"], cwd=REPO, env=env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        for name in ("registry", "ingest", "rules", "notify"):
            self[name].start()
            progress(f"fault cluster: {name} ready on :{self.ports[name]}")

    def stop(self) -> None:
        for name in (
            "registry-fuzz",
            "notify-2",
            "notify",
            "rules-2",
            "rules",
            "ingest",
            "registry",
            "ferretdb",
            *reversed(self.broker_names),
        ):
            if name in self.processes:
                self.processes[name].stop()

    def ensure_running(self) -> None:
        """Bring back anything a test left stopped, so the next test starts from a whole cluster."""
        for name in (*self.broker_names, "ferretdb", "registry", "ingest", "rules", "notify"):
            process = self.processes[name]
            if not process.alive:
                process.start()
        for extra in ("notify-2", "rules-2"):
            if self[extra].alive:
                self[extra].stop()
