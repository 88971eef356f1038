#!/usr/bin/env bash
# Startup script of the MLflow tracking server VM (Debian 12), run by the guest agent at every boot.
#
# It installs pinned MLflow and the Cloud SQL Auth Proxy, then runs both as systemd units: the proxy
# reaches PostgreSQL on its private IP (IAM-authorised, TLS) and listens on 127.0.0.1:5432 only;
# MLflow stores runs and the registry there and artifacts in gs://ARTIFACT_BUCKET/mlruns, serving
# them to clients itself (so clients need no bucket access). Settings come from instance metadata
# written by scripts/bootstrap.sh; the database password comes from Secret Manager at each boot.
set -euo pipefail

MLFLOW_VERSION=3.17.2
PSYCOPG2_VERSION=2.9.13
GOOGLE_CLOUD_STORAGE_VERSION=3.17.1
CLOUD_SQL_PROXY_VERSION=v2.14.0
VENV=/opt/mlflow
PROXY=/usr/local/bin/cloud-sql-proxy

metadata() {
  curl -fsS -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/instance/$1"
}

artifact_bucket=$(metadata attributes/mlflow-artifact-bucket)
sql_instance=$(metadata attributes/mlflow-sql-instance)
db_name=$(metadata attributes/mlflow-db-name)
db_user=$(metadata attributes/mlflow-db-user)
db_secret=$(metadata attributes/mlflow-db-secret)
port=$(metadata attributes/mlflow-port)
private_ip=$(metadata network-interfaces/0/ip)

# ---- Software (skipped on reboots when the pinned versions are already there) ----
if ! id mlflow >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/mlflow --create-home --shell /usr/sbin/nologin mlflow
fi
if [[ "$("$VENV/bin/mlflow" --version 2>/dev/null || true)" != *"$MLFLOW_VERSION"* ]]; then
  apt-get update
  apt-get install -y --no-install-recommends python3-venv
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --no-cache-dir "mlflow==$MLFLOW_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION" \
    "google-cloud-storage==$GOOGLE_CLOUD_STORAGE_VERSION"
fi
if [[ "$("$PROXY" --version 2>/dev/null || true)" != *"${CLOUD_SQL_PROXY_VERSION#v}"* ]]; then
  curl -fsSLo "$PROXY" \
    "https://storage.googleapis.com/cloud-sql-connectors/cloud-sql-proxy/$CLOUD_SQL_PROXY_VERSION/cloud-sql-proxy.linux.amd64"
  chmod 0755 "$PROXY"
fi

# ---- Credentials: readable by root only; systemd hands them to MLflow as its environment ----
# The VM's account is granted the secret minutes before the first boot, and IAM may take a minute or
# more to apply a new grant: a refused read is retried, SECRET_RETRY_SECONDS at first, doubling up to
# a minute, SECRET_ATTEMPTS times in all (5 + 10 + 20 + 40 + 60 × 4 s, about 5 minutes). Then the
# script stops with gcloud's error in the log; systemd runs nothing without /etc/mlflow/env.
SECRET_ATTEMPTS=${SECRET_ATTEMPTS:-9}
SECRET_RETRY_SECONDS=${SECRET_RETRY_SECONDS:-5}
read_secret() {
  local attempt=1 delay=$SECRET_RETRY_SECONDS value
  until value=$(gcloud secrets versions access latest --secret="$1"); do
    if ((attempt >= SECRET_ATTEMPTS)); then
      echo "mlflow-vm-startup: secret $1 still unreadable after $attempt attempts" >&2
      return 1
    fi
    echo "mlflow-vm-startup: secret $1 not readable yet (attempt $attempt of $SECRET_ATTEMPTS), retrying in $delay s" >&2
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
  printf '%s' "$value"
}
password=$(read_secret "$db_secret")
install -d -m 0700 /etc/mlflow
umask 077
printf 'MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://%s:%s@127.0.0.1:5432/%s\n' \
  "$db_user" "$password" "$db_name" >/etc/mlflow/env
umask 022

# ---- Services ----
cat >/etc/systemd/system/cloud-sql-proxy.service <<EOF
[Unit]
Description=Cloud SQL Auth Proxy for the MLflow backend store
After=network-online.target
Wants=network-online.target

[Service]
User=mlflow
ExecStart=$PROXY --private-ip --address 127.0.0.1 --port 5432 $sql_instance
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF

cat >/etc/systemd/system/mlflow.service <<EOF
[Unit]
Description=MLflow tracking server
After=cloud-sql-proxy.service
Requires=cloud-sql-proxy.service

[Service]
User=mlflow
WorkingDirectory=/var/lib/mlflow
EnvironmentFile=/etc/mlflow/env
# No job runner: MLflow 3 would start about ten huey worker processes for features we do not use.
Environment=MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
ExecStart=$VENV/bin/mlflow server --artifacts-destination gs://$artifact_bucket/mlruns --serve-artifacts --host 0.0.0.0 --port $port --workers 2 --allowed-hosts $private_ip:$port,$private_ip,localhost:$port,127.0.0.1:$port
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF

systemctl daemon-reload
systemctl enable cloud-sql-proxy.service mlflow.service
systemctl restart cloud-sql-proxy.service mlflow.service
