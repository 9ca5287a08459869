#!/usr/bin/env bash
# Installs, starts, stops and reports on the local Liaison platform without Docker.
#
#   scripts/platform.sh install   fetch and build what is missing (idempotent, cached)
#   scripts/platform.sh up        install, start Kafka, FerretDB, Prometheus and the services, seed
#   scripts/platform.sh demo      play the winter of 2011–12 through the running platform
#   scripts/platform.sh infra     install and start Kafka and FerretDB only (what tests need)
#   scripts/platform.sh restart   restart the Liaison services after a code change
#   scripts/platform.sh down      stop what `up` started, by pid file, and nothing else
#   scripts/platform.sh status    what runs, where
#   scripts/platform.sh postgres  install and start the PostgreSQL cluster only (for the fault suite)
#   scripts/platform.sh admin-token  print the admin token (generated into .local/secrets/ when unset)
#
# Everything it downloads or writes lives under .local/ (ignored by git), ~/.m2 and Go's cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
RUN="$LOCAL/run"
LOGS="$LOCAL/logs"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
KAFKA_LIBS="$LOCAL/kafka/libs"
KAFKA_DATA="$LOCAL/kafka/data"
FERRETDB_BIN="$LOCAL/bin/ferretdb-local"

KAFKA_PORT=9092
MONGO_PORT=27017
PG_PORT=5433
PG_HOME="$LOCAL/postgres"
PG_DATA="$PG_HOME/data"
# No user and no password: a client that does not authenticate to FerretDB (PLAIN, passed on to
# PostgreSQL) reaches nothing. The services connect as $DB_USER (MONGODB_URI, below).
PG_URL="postgres://127.0.0.1:$PG_PORT/ferretdb"
DB_USER=liaison
PROMETHEUS_PORT=9090
ALERTMANAGER_PORT=9094  # 9093 is the Kafka controller's listener
OPS_LOG_PORT=9095  # the operators' receiver of last resort (scripts/ops_alert_log.py)
# name:port:module of each Liaison service; later issues add ingest, rules and notify here.
# A "faust" entry is a Faust worker (python -m MODULE worker) whose web server has /healthz.
SERVICES=(
  "registry:8002:services.registry.app:create_app"
  "ingest:8001:services.ingest.app:create_app"
  "rules:8004:services.rules:faust"
  "notify:8003:services.notify.app:create_app"
  "console:8005:services.console.app:create_app"
)

mkdir -p "$RUN" "$LOGS"

# initdb and postgres run as the postgres user when we are root: if that user cannot reach the
# repository's folder (a clone under a private home), the cluster lives in its own home instead.
choose_pg_home() {
  if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
    PG_HOME="/var/lib/postgresql/liaison-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
    PG_DATA="$PG_HOME/data"
  fi
}
choose_pg_home

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file outlives a reboot, and its number may then belong to another process: each pid file
# has the process's start time beside it (field 22 of /proc/PID/stat), and a pid counts as ours
# only while both match. After a reboot, make up once took a thread of ingest (kill -0 answers
# for a thread's id) for rules, "already running", and waited for it; make down would have
# signalled it.
proc_start() { [[ -r "/proc/$1/stat" ]] && sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

record_pid() {  # record_pid NAME PID
  echo "$2" >"$RUN/$1.pid"
  proc_start "$2" >"$RUN/$1.started" || true
}

pid_alive() {
  local pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  # kill -0 also answers for a thread's id, which /proc lists too: a process leads its threads
  grep -qx "Tgid:[[:space:]]*$pid" "/proc/$pid/status" 2>/dev/null || return 1
  [[ ! -f "$RUN/$1.started" || "$(proc_start "$pid")" == "$(cat "$RUN/$1.started")" ]]
}

wait_for() {  # wait_for NAME SECONDS COMMAND...
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      fail "$name did not become ready in ${seconds}s; see $LOGS/$name.log"
    fi
    if [[ -f "$RUN/$name.pid" ]] && ! pid_alive "$name"; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      fail "$name exited during start-up; see $LOGS/$name.log"
    fi
    sleep 0.5
  done
}

start_process() {  # start_process NAME COMMAND... ; runs in the background with a pid file
  local name="$1"; shift
  if pid_alive "$name"; then
    say "$name already running (pid $(cat "$RUN/$name.pid"))"
    return 1
  fi
  nohup "$@" >>"$LOGS/$name.log" 2>&1 &
  record_pid "$name" $!
  return 0
}

# ---------------------------------------------------------------- install

install_python() {
  if [[ ! -x "$PY" ]]; then
    say "creating the virtual environment in .venv"
    python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
  if [[ ! -f "$stamp" ]]; then
    say "installing Python packages (pinned in pyproject.toml)"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -e "$ROOT[dev]"
    touch "$stamp"
  fi
}

install_kafka() {
  if ! compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    say "fetching Apache Kafka jars from Maven Central (infra/kafka/pom.xml)"
    mvn -q -B -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
  fi
}

install_ferretdb() {
  if [[ ! -x "$FERRETDB_BIN" || "$ROOT/infra/ferretdb/go.mod" -nt "$FERRETDB_BIN" \
        || "$ROOT/infra/ferretdb/main.go" -nt "$FERRETDB_BIN" ]]; then
    say "building FerretDB v1.24.2 from the Go module proxy (infra/ferretdb)"
    (cd "$ROOT/infra/ferretdb" && go build -o "$FERRETDB_BIN" .)
  fi
}

apt_install() {  # apt_install PACKAGE...: from Debian's packages, as root or through sudo
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bin() { compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n 1 | xargs -r dirname; }

install_postgres() {
  if [[ -z "$(pg_bin)" ]]; then
    say "installing PostgreSQL from Debian's packages (FerretDB's storage)"
    apt_install postgresql
    # Debian's package starts a cluster of its own on 5432; ours is under .local/ on $PG_PORT.
  fi
}

as_pg_owner() {  # initdb and postgres refuse to run as root: run them as the postgres user then
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_pid() { [[ -f "$PG_DATA/postmaster.pid" ]] && head -n 1 "$PG_DATA/postmaster.pid"; }

install_prometheus() {
  if ! command -v prometheus >/dev/null; then
    say "installing Prometheus from Debian's packages"
    apt_install prometheus
  fi
  if ! command -v prometheus-alertmanager >/dev/null; then
    say "installing Alertmanager from Debian's packages"
    apt_install prometheus-alertmanager
  fi
}

KUSTOMIZE_VERSION=v5.8.1
KUSTOMIZE_BIN="$LOCAL/tools/kustomize-$KUSTOMIZE_VERSION/kustomize"

install_kustomize() {
  # Only tests/infra/test_k8s.py needs it: it builds the manifests of infra/k8s/.
  if [[ ! -x "$KUSTOMIZE_BIN" ]]; then
    say "building kustomize $KUSTOMIZE_VERSION from the Go module proxy (for the Kubernetes manifests)" >&2
    GOBIN="$(dirname "$KUSTOMIZE_BIN")" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi
}

install_browser() {
  # Only the console's browser tests need it: Debian's Chromium and a font with Chinese glyphs.
  if [[ ! -x /usr/bin/chromium || ! -d /usr/share/fonts/truetype/wqy ]]; then
    say "installing Chromium and a Chinese font from Debian's packages (for the console's browser tests)"
    apt_install chromium chromium-driver fonts-wqy-zenhei
  fi
}

check_tools() {
  local missing=()
  for tool in java mvn go python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || fail "missing prerequisites: ${missing[*]} (Java 17, Maven, Go and Python 3.11 are needed; or use Docker: docker compose -f infra/compose.yaml up)"
}

install_all() {
  check_tools
  install_python
  install_kafka
  install_ferretdb
  install_postgres
  install_prometheus
}

# ---------------------------------------------------------------- start

kafka_java_opts=(-Xms256m -Xmx1g -Dlog4j.configuration="file:$ROOT/infra/kafka/log4j.properties")

kafka_tls() {  # a CA of this installation and the broker's certificate for its TLS listener (once)
  local ca="$SECRETS/kafka-ca.crt" broker="$SECRETS/kafka-broker.pem"
  [[ -s "$ca" && -s "$broker" ]] && return
  say "a CA of this installation and the broker's certificate for its TLS listener (.local/secrets/kafka-ca.crt)"
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
  local work; work="$(mktemp -d)"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Liaison local Kafka CA" \
      -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$work/broker.key" \
      -out "$work/broker.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$work/san.ext"
    openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
      -days 3650 -extfile "$work/san.ext" -out "$work/broker.crt" 2>/dev/null
    # Kafka's PEM key store: the private key (PKCS#8) and the certificate chain in one file.
    { openssl pkcs8 -topk8 -nocrypt -in "$work/broker.key"; cat "$work/broker.crt" "$work/ca.crt"; } >"$broker"
    cp "$work/ca.crt" "$ca"
  ) || { rm -rf "$work"; fail "could not make the Kafka TLS certificates (openssl)"; }
  rm -rf "$work"
}

write_kafka_config() {  # the broker's settings with this installation's passwords (mode 0600)
  local props="$LOCAL/kafka/server.properties"
  mkdir -p "$LOCAL/kafka"
  kafka_tls
  (umask 077 && sed -e "s#@DATA_DIR@#$KAFKA_DATA#" -e "s#@ADMIN_PASSWORD@#$KAFKA_PASSWORD#" \
    -e "s#@CONTROLLER_PASSWORD@#$(secret kafka-controller.password)#g" \
    -e "s#@TLS_KEYSTORE@#$SECRETS/kafka-broker.pem#" \
    "$ROOT/infra/kafka/server.properties" >"$props")
  chmod 600 "$props"
}

migrate_kafka_to_sasl() {
  # Data formatted by an earlier version (PLAINTEXT, no admin user): start it once without
  # authentication, give the admin its SCRAM credentials, stop it. Topics and offsets stay.
  say "Kafka's data predates SASL: adding the admin user to it (once)"
  local plain="$LOCAL/kafka/server-plaintext.properties"
  (umask 077 && sed -e 's/,SASL_SSL:[^,]*//' -e 's#,SASL_SSL://[^,]*##g' -e '/^ssl\./d' \
    -e 's/SASL_PLAINTEXT/PLAINTEXT/g' -e '/^sasl\./d' -e '/^listener\.name\./d' \
    -e '/^authorizer\./d' -e '/^super\.users/d' -e '/^allow\.everyone/d' \
    "$LOCAL/kafka/server.properties" >"$plain")
  start_process kafka java "${kafka_java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$plain" || true
  wait_for kafka 90 port_open $KAFKA_PORT
  env -u KAFKA_USERNAME -u KAFKA_PASSWORD "$PY" - <<'EOF2'
import os, time
from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion
deadline = time.monotonic() + 60
while True:
    try:
        admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:9092", client_id="liaison-migrate")
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
password = open(os.environ["KAFKA_ADMIN_PASSWORD_FILE"]).read().strip()
errors = admin.alter_user_scram_credentials([UserScramCredentialUpsertion("admin", "SCRAM-SHA-256", password)])
admin.close()
assert not any(errors.values()), errors
EOF2
  stop_process kafka
  rm -f "$plain"
}

start_kafka() {
  if port_open $KAFKA_PORT && ! pid_alive kafka; then
    say "a Kafka broker already listens on $KAFKA_PORT (not ours): using it"
    return
  fi
  local props="$LOCAL/kafka/server.properties"
  write_kafka_config
  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    say "formatting Kafka's KRaft storage in .local/kafka/data (SASL/SCRAM, admin user from .local/secrets/)"
    local cluster_id
    # Kafka's own random-uuid never starts an id with "-": the storage tool would read it as an
    # option ("--cluster-id: expected one argument"), one start in 64; a clean-clone CI run failed so.
    cluster_id="$(python3 -c 'import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]).startswith("-"): pass
print(cid)')"
    java "${kafka_java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$props" --add-scram "SCRAM-SHA-256=[name=admin,password=$KAFKA_PASSWORD]" \
      >>"$LOGS/kafka.log" 2>&1 || fail "Kafka storage format failed; see $LOGS/kafka.log"
    touch "$LOCAL/kafka/sasl-ready"
  elif [[ ! -f "$LOCAL/kafka/sasl-ready" ]] && ! pid_alive kafka; then
    KAFKA_ADMIN_PASSWORD_FILE="$SECRETS/kafka-admin.password" migrate_kafka_to_sasl
    touch "$LOCAL/kafka/sasl-ready"
  fi
  if start_process kafka java "${kafka_java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$props"; then
    say "starting Kafka on 127.0.0.1:$KAFKA_PORT (SASL/SCRAM, ACLs)"
  fi
  wait_for kafka 90 port_open $KAFKA_PORT
}

kafka_access() {
  say "Kafka users and ACLs (idempotent)"
  "$PY" -m liaison_common.kafka_access --secrets "$SECRETS" --bootstrap "127.0.0.1:$KAFKA_PORT"
}

start_postgres() {
  choose_pg_home  # the postgres user may have been created by the install just now
  local bin; bin="$(pg_bin)"
  [[ -n "$bin" ]] || fail "PostgreSQL is not installed (make install does it)"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    say "creating a PostgreSQL cluster in .local/postgres (127.0.0.1:$PG_PORT only)"
    mkdir -p "$PG_DATA"
    if [[ $(id -u) -eq 0 ]]; then
      chown -R postgres: "$PG_HOME"
      # initdb runs as the postgres user, which must be able to reach the folder.
      runuser -u postgres -- test -w "$PG_DATA" || fail "the postgres user cannot write $PG_DATA"
    fi
    chmod 700 "$PG_DATA"
    # Every connection asks for a password from the start: the superuser's is generated into
    # .local/secrets/postgres-password and handed to initdb in a file only its owner reads.
    local pwfile="$PG_HOME/initdb-password"
    (umask 077 && secret postgres-password >"$pwfile")
    [[ $(id -u) -eq 0 ]] && chown postgres: "$pwfile"
    as_pg_owner "$bin/initdb" -D "$PG_DATA" -U postgres --auth-host=scram-sha-256 --auth-local=peer \
      --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$LOGS/postgres-init.log" 2>&1 \
      || { rm -f "$pwfile"; fail "initdb failed; see $LOGS/postgres-init.log"; }
    rm -f "$pwfile"
  fi
  if [[ -n "$(pg_pid)" ]] && kill -0 "$(pg_pid)" 2>/dev/null; then
    record_pid postgres "$(pg_pid)"
  else
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # default_statistics_target 10, not 100: ANALYZE samples 300 rows per unit of it, and each
    # sampled row is a whole FerretDB document to detoast. An autoanalyze of 24,000 alerts took
    # 660-700 ms of CPU (83-88 ms at 10), came every 2,400 changes, and with the same of two
    # other tables stalled the lived-in pipeline for a second (docs/benchmarks.md).
    as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_HOME/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_HOME -c default_statistics_target=10" start >/dev/null \
      || fail "PostgreSQL did not start; see $PG_HOME/postgres.log"
    record_pid postgres "$(pg_pid)"
  fi
  require_pg_passwords "$bin"
  ensure_application_role "$bin"
  if ! "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" \
      | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p $PG_PORT -U postgres -O "$DB_USER" ferretdb
  fi
  grant_application_user "$bin"
  # The indexes FerretDB's lookups can use (each start: the file is idempotent).
  "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -d ferretdb -q -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -f "$ROOT/infra/postgres/ferretdb-indexes.sql" >/dev/null \
    || fail "could not apply infra/postgres/ferretdb-indexes.sql"
}

# A cluster made by an earlier version (initdb --auth=trust: any local user was the superuser)
# is given passwords and scram-sha-256 once, while trust still lets this script in; after that,
# and on a new cluster, the superuser's password from .local/secrets/ is the way in.
require_pg_passwords() {
  local bin="$1" hba="$PG_DATA/pg_hba.conf"
  export PGPASSWORD; PGPASSWORD="$(secret postgres-password)"  # this script's psql only
  if grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$hba"; then
    say "PostgreSQL: asking every connection for a password from now on (scram-sha-256)"
    "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -q -v ON_ERROR_STOP=1 \
      -c "ALTER ROLE postgres PASSWORD '$PGPASSWORD'" >/dev/null || fail "could not set the superuser's password"
    cat >"$hba" <<'HBA'
# Liaison (scripts/platform.sh): a password for every connection, never trust.
local   all   postgres                  peer
local   all   all                       scram-sha-256
host    all   all       127.0.0.1/32    scram-sha-256
host    all   all       ::1/128         scram-sha-256
HBA
    [[ $(id -u) -eq 0 ]] && chown postgres: "$hba"
    as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" reload >/dev/null || fail "PostgreSQL did not reload pg_hba.conf"
  fi
}

# The one application user (FerretDB 1.x connects to PostgreSQL as the user its client names):
# its password in .local/secrets/database-password; it owns the database FerretDB writes, and
# what an earlier version made there as the superuser is handed over to it (no data moves).
ensure_application_role() {  # before the database it owns is created
  local bin="$1" password; password="$(secret database-password)"
  "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || fail "could not create the database user $DB_USER"
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN CREATE ROLE $DB_USER LOGIN; END IF;
END \$\$;
ALTER ROLE $DB_USER LOGIN PASSWORD '$password';
SQL
}

grant_application_user() {
  local bin="$1"
  "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -d ferretdb -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || fail "could not set up the database user $DB_USER"
SET client_min_messages = warning;
ALTER DATABASE ferretdb OWNER TO $DB_USER;
DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT nspname FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner
           WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public') AND o.rolname <> '$DB_USER' LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO $DB_USER', r.nspname);
  END LOOP;
  FOR r IN SELECT schemaname, tablename FROM pg_tables
           WHERE schemaname NOT LIKE 'pg\_%' AND schemaname <> 'information_schema' AND tableowner <> '$DB_USER' LOOP
    EXECUTE format('ALTER TABLE %I.%I OWNER TO $DB_USER', r.schemaname, r.tablename);
  END LOOP;
END \$\$;
SQL
}

# After a bulk load (a restore, a migration, bench-scale's year): what autovacuum would otherwise
# do under load in the minutes after it, done at once: planner statistics for the new rows and
# the visibility map for index-only reads.
vacuum_analyze() {
  local bin; bin="$(pg_bin)"
  [[ -n "$bin" && -n "$(pg_pid)" ]] && kill -0 "$(pg_pid)" 2>/dev/null \
    || fail "the local PostgreSQL is not running (make up starts it)"
  export PGPASSWORD; PGPASSWORD="$(secret postgres-password)"
  say "VACUUM (ANALYZE) of the database under FerretDB"
  local started=$SECONDS
  "$bin/psql" -h 127.0.0.1 -p $PG_PORT -U postgres -d ferretdb -q -v ON_ERROR_STOP=1 \
    -c "VACUUM (ANALYZE)" || fail "VACUUM (ANALYZE) failed"
  say "done in $((SECONDS - started)) s"
}

start_ferretdb() {
  if port_open $MONGO_PORT && ! pid_alive ferretdb; then
    say "a MongoDB-wire database already listens on $MONGO_PORT (not ours): using it"
    return
  fi
  start_postgres
  if start_process ferretdb "$FERRETDB_BIN" --listen-addr "127.0.0.1:$MONGO_PORT" --postgresql-url "$PG_URL"; then
    say "starting FerretDB on 127.0.0.1:$MONGO_PORT (on PostgreSQL, 127.0.0.1:$PG_PORT)"
  fi
  wait_for ferretdb 30 port_open $MONGO_PORT
}

# Where the platform's own alerts go: LIAISON_OPS_WEBHOOK_URL (a webhook) and/or LIAISON_OPS_EMAIL
# (with LIAISON_OPS_SMTP, host:port, and LIAISON_OPS_EMAIL_FROM), set by the operators; with
# neither, the local receiver that writes them to .local/logs/ops-alerts.log.
write_alertmanager_config() {
  local dir="$LOCAL/alertmanager" webhook="${LIAISON_OPS_WEBHOOK_URL:-}"
  mkdir -p "$dir"
  if [[ -z "$webhook" && -z "${LIAISON_OPS_EMAIL:-}" ]]; then webhook="http://127.0.0.1:$OPS_LOG_PORT/"; fi
  {
    echo "# Written by scripts/platform.sh at every start; set LIAISON_OPS_WEBHOOK_URL or LIAISON_OPS_EMAIL instead of editing."
    echo "route:"
    echo "  receiver: operators"
    echo "  group_by: [alertname, job, topic, channel, group_id]"
    echo "  group_wait: 10s"
    echo "  group_interval: 1m"
    echo "  repeat_interval: 4h"
    echo "receivers:"
    echo "  - name: operators"
    if [[ -n "$webhook" ]]; then
      echo "    webhook_configs:"
      echo "      - url: \"$webhook\""
      echo "        send_resolved: true"
    fi
    if [[ -n "${LIAISON_OPS_EMAIL:-}" ]]; then
      echo "    email_configs:"
      echo "      - to: \"$LIAISON_OPS_EMAIL\""
      echo "        from: \"${LIAISON_OPS_EMAIL_FROM:-liaison-ops@localhost}\""
      echo "        smarthost: \"${LIAISON_OPS_SMTP:-127.0.0.1:25}\""
      echo "        require_tls: false"
      echo "        send_resolved: true"
    fi
  } >"$dir/alertmanager.yml"
}

start_alertmanager() {
  write_alertmanager_config
  if [[ -z "${LIAISON_OPS_WEBHOOK_URL:-}" && -z "${LIAISON_OPS_EMAIL:-}" ]]; then
    if ! pid_alive ops-alert-log && port_open $OPS_LOG_PORT; then
      say "something else listens on $OPS_LOG_PORT: the platform's alerts will not reach .local/logs/ops-alerts.log"
    elif ! pid_alive ops-alert-log; then
      start_process ops-alert-log "$PY" "$ROOT/scripts/ops_alert_log.py" --port $OPS_LOG_PORT \
        --log "$LOGS/ops-alerts.log"
      wait_for ops-alert-log 15 port_open $OPS_LOG_PORT
    fi
  fi
  if port_open $ALERTMANAGER_PORT && ! pid_alive alertmanager; then
    say "something already listens on $ALERTMANAGER_PORT (not ours): not starting Alertmanager"
    return
  fi
  if pid_alive alertmanager; then
    kill -HUP "$(cat "$RUN/alertmanager.pid")"  # the receivers may have changed
  fi
  if start_process alertmanager prometheus-alertmanager --config.file="$LOCAL/alertmanager/alertmanager.yml" \
      --storage.path="$LOCAL/alertmanager/data" --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
      --cluster.listen-address=""; then
    say "starting Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
  fi
  wait_for alertmanager 30 port_open $ALERTMANAGER_PORT
}

start_prometheus() {
  if port_open $PROMETHEUS_PORT && ! pid_alive prometheus; then
    say "something already listens on $PROMETHEUS_PORT (not ours): not starting Prometheus"
    return
  fi
  if pid_alive prometheus; then
    kill -HUP "$(cat "$RUN/prometheus.pid")"  # reload the config: the scrape targets may have changed
  fi
  # The ops dashboards: Prometheus' own console templates (infra/prometheus/consoles).
  if start_process prometheus prometheus --config.file="$ROOT/infra/prometheus/prometheus.yml" \
      --storage.tsdb.path="$LOCAL/prometheus" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      --web.console.templates="$ROOT/infra/prometheus/consoles" \
      --web.console.libraries="$ROOT/infra/prometheus/console_libraries"; then
    say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  fi
  wait_for prometheus 30 port_open $PROMETHEUS_PORT
}

http_ok() { "$PY" - "$1" <<'EOF'
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

kafka_password() { cat "$SECRETS/kafka-$1.password"; }  # written by kafka_access

start_services() {
  local entry name port module
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name port module attr <<<"$entry"
    if [[ $attr == faust ]]; then
      mkdir -p "$LOCAL/$name"
      if RULES_DATADIR="$LOCAL/$name" KAFKA_USERNAME="$name" KAFKA_PASSWORD="$(kafka_password "$name")" start_process "$name" "$PY" -m "$module" worker -l info --web-port "$port"; then
        say "starting $name (Faust worker) with /healthz on 127.0.0.1:$port"
      fi
    elif KAFKA_USERNAME="$name" KAFKA_PASSWORD="$(kafka_password "$name")" start_process "$name" "$VENV/bin/uvicorn" --factory "$module:$attr" --host 127.0.0.1 --port "$port" --no-access-log; then
      say "starting $name on 127.0.0.1:$port"
    fi
    wait_for "$name" 120 http_ok "http://127.0.0.1:$port/healthz"
  done
}

create_topics() {
  say "creating Kafka topics (idempotent)"
  "$PY" -m liaison_common.topics
}

run_demo_on_empty() {
  # The main job on a fresh installation: play the winter of 2011–12 through the pipeline.
  [[ "${DEMO:-1}" == 0 ]] && return
  local alerts
  alerts="$("$PY" -c 'import os, httpx; print(len(httpx.get("http://127.0.0.1:8003/v1/alerts", params={"limit": 1}, headers={"Authorization": "Bearer " + os.environ["LIAISON_ADMIN_TOKEN"]}, timeout=10).json()))')"
  if [[ "$alerts" == 0 ]]; then
    say "an empty installation: playing the winter of 2011–12 through the pipeline (DEMO=0 skips this)"
    "$PY" -m liaison_sim || say "the demo did not complete; the platform is still running"
  fi
}

seed_registry() {
  say "loading the organisation into the registry (idempotent)"
  "$PY" -m services.registry.seed
}

# ---------------------------------------------------------------- stop and report

stop_process() {  # stop_process NAME [SIGNAL]
  local name="$1" signal="${2:-TERM}" pidfile="$RUN/$1.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid; pid="$(cat "$pidfile")"
  if pid_alive "$name"; then
    say "stopping $name (pid $pid)"
    kill -s "$signal" "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in 30 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile" "$RUN/$name.started"
}

status() {
  local name port
  printf '%-12s %-8s %-24s %s\n' COMPONENT PID ADDRESS STATE
  for spec in kafka:$KAFKA_PORT postgres:$PG_PORT ferretdb:$MONGO_PORT prometheus:$PROMETHEUS_PORT \
      alertmanager:$ALERTMANAGER_PORT "${SERVICES[@]}"; do
    IFS=: read -r name port _ <<<"$spec"
    local pid="-" state="stopped"
    if pid_alive "$name"; then pid="$(cat "$RUN/$name.pid")"; state="running"; fi
    if [[ $state == stopped ]] && port_open "$port"; then state="port in use (not started by us)"; fi
    printf '%-12s %-8s %-24s %s\n' "$name" "$pid" "127.0.0.1:$port" "$state"
  done
}

print_where() {
  cat <<EOF

Liaison is running:
  ingest      http://127.0.0.1:8001/docs   POST /v1/reports, /v1/incidents, /v1/workgroup-reports
  rules       http://127.0.0.1:8004/healthz   alerts on Kafka liaison.alerts.v1
  console     http://127.0.0.1:8005/       the web console for the groups (sign in with a group's token)
  notify      http://127.0.0.1:8003/docs   GET /v1/alerts (the inbox), ack, resolve, digests
  registry    http://127.0.0.1:8002/docs
  admin token from $ADMIN_TOKEN_FROM; webhook signing secret in .local/secrets/webhook-secret
  ops         http://127.0.0.1:9090/consoles/liaison-overview.html   the dashboards (one page per service)
  Prometheus  http://127.0.0.1:9090/targets   Alertmanager http://127.0.0.1:9094/#/alerts
              the platform's own alerts: ${LIAISON_OPS_WEBHOOK_URL:-${LIAISON_OPS_EMAIL:-.local/logs/ops-alerts.log}}
  Kafka       127.0.0.1:9092 (SASL/SCRAM)   MongoDB wire (FerretDB)  127.0.0.1:27017
              enterprise systems: .local/secrets/kafka-client.properties (may write liaison.inbound.v1 only)
              operators:          .local/secrets/kafka-admin.properties  (kcat -F FILE ...)
  logs        .local/logs/     pids .local/run/     stop with: make down
EOF
}

# Secrets: from the environment, or generated once into .local/secrets/ (mode 0600).
SECRETS="$LOCAL/secrets"
secret() {  # secret NAME: print the secret in .local/secrets/NAME, generating it when missing
  local file="$SECRETS/$1"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file")
  fi
  cat "$file"
}
if [[ -z "${LIAISON_ADMIN_TOKEN:-}" ]]; then
  LIAISON_ADMIN_TOKEN="$(secret admin-token)"
  ADMIN_TOKEN_FROM="$SECRETS/admin-token"
else
  ADMIN_TOKEN_FROM="the environment (LIAISON_ADMIN_TOKEN)"
fi
export LIAISON_ADMIN_TOKEN
export NOTIFY_WEBHOOK_SECRET="${NOTIFY_WEBHOOK_SECRET:-$(secret webhook-secret)}"
# The services' database: FerretDB with the application user's credentials (PLAIN: FerretDB 1.x
# hands them to PostgreSQL, which checks them with scram-sha-256).
export MONGODB_URI="${MONGODB_URI:-mongodb://$DB_USER:$(secret database-password)@127.0.0.1:$MONGO_PORT/liaison?authMechanism=PLAIN}"
# The receivers of a local installation run on this machine: let webhooks reach loopback.
export REGISTRY_ALLOW_PRIVATE_WEBHOOKS="${REGISTRY_ALLOW_PRIVATE_WEBHOOKS:-true}"
export NOTIFY_ALLOW_PRIVATE_WEBHOOKS="${NOTIFY_ALLOW_PRIVATE_WEBHOOKS:-$REGISTRY_ALLOW_PRIVATE_WEBHOOKS}"
# This script's own Kafka clients (topics, seed, demo) are the broker's admin; each service is
# started as its own user (kafka_access, start_services).
export KAFKA_USERNAME=admin
KAFKA_PASSWORD="$(secret kafka-admin.password)"
export KAFKA_PASSWORD
cd "$ROOT"

case "${1:-}" in
  install) install_all ;;
  test-deps) install_browser; install_kustomize ;;
  kustomize)
    install_kustomize
    shift
    "$KUSTOMIZE_BIN" "$@"
    ;;
  infra)
    install_all
    start_kafka
    kafka_access
    start_ferretdb
    create_topics
    ;;
  up)
    install_all
    start_kafka
    kafka_access
    start_ferretdb
    create_topics
    seed_registry
    start_services
    start_alertmanager
    start_prometheus
    run_demo_on_empty
    status
    print_where
    ;;
  demo)
    "$PY" -m liaison_sim
    ;;
  restart)
    for entry in "${SERVICES[@]}"; do stop_process "${entry%%:*}"; done
    start_services
    start_alertmanager
    start_prometheus
    status
    ;;
  down)
    for entry in "${SERVICES[@]}"; do stop_process "${entry%%:*}"; done
    stop_process prometheus
    stop_process alertmanager
    stop_process ops-alert-log
    stop_process ferretdb
    stop_process postgres INT  # PostgreSQL's fast shutdown
    stop_process kafka
    ;;
  status) status ;;
  admin-token) printf '%s\n' "$LIAISON_ADMIN_TOKEN" ;;
  forget-postgres)  # clean-data: the cluster's files, wherever they are (after down)
    rm -rf "$PG_HOME"
    ;;
  postgres)  # the PostgreSQL cluster alone (the fault suite's FerretDB keeps a database there)
    install_postgres
    start_postgres
    ;;
  vacuum) vacuum_analyze ;;
  *) echo "usage: $0 install|test-deps|infra|up|demo|restart|down|status|admin-token|postgres|vacuum" >&2; exit 2 ;;
esac
