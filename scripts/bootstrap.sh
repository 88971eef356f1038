#!/usr/bin/env bash
# Create every Google Cloud resource gasforecast needs, in order, with least-privilege identities.
#
# Safe to re-run: each resource is created only when a describe finds nothing, and IAM bindings are
# additive. With --dry-run nothing is run: every command is printed instead (checks and look-ups as
# "# check:" and "# lookup:" comments), so the whole plan can be reviewed first.
#
# Usage: scripts/bootstrap.sh [--dry-run] [PHASE...]
#   Phases, in order: apis network storage pubsub identities sql mlflow composer  (default: all of them)
#   After the first `gcloud builds submit`: scripts/bootstrap.sh dead-letter
# Names come from the environment; defaults match gasforecast/config.py and cloudbuild.yaml.
# docs/gcp-setup.md walks through each phase.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL_PHASES=(apis network storage pubsub identities sql mlflow composer)

DRY_RUN=0
PHASES=()
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    all) PHASES+=("${ALL_PHASES[@]}") ;;
    apis | network | storage | pubsub | identities | sql | mlflow | composer | dead-letter) PHASES+=("$arg") ;;
    *)
      echo "bootstrap.sh: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done
[[ ${#PHASES[@]} -gt 0 ]] || PHASES=("${ALL_PHASES[@]}")

# ---- Names (override any of them in the environment) -------------------------------------------
if [[ $DRY_RUN -eq 1 ]]; then
  PROJECT_ID=${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-your-project-id}}
else
  PROJECT_ID=${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-$(gcloud config get-value project 2>/dev/null)}}
fi
if [[ -z $PROJECT_ID ]]; then
  echo "bootstrap.sh: set PROJECT_ID (or run: gcloud config set project PROJECT_ID)" >&2
  exit 2
fi
REGION=${REGION:-europe-west2}
ZONE=${ZONE:-${REGION}-a}
DATA_BUCKET=${DATA_BUCKET:-gasforecast-data}
ARTIFACT_BUCKET=${ARTIFACT_BUCKET:-gasforecast-artifacts}
RETRAIN_TOPIC=${RETRAIN_TOPIC:-retrain-requests}
DEAD_LETTER_TOPIC=${DEAD_LETTER_TOPIC:-${RETRAIN_TOPIC}-dead-letter}
DEAD_LETTER_SUBSCRIPTION=${DEAD_LETTER_SUBSCRIPTION:-${DEAD_LETTER_TOPIC}-sub}
MAX_DELIVERY_ATTEMPTS=${MAX_DELIVERY_ATTEMPTS:-5}
REPOSITORY=${REPOSITORY:-gasforecast}
TRAIN_FUNCTION=${TRAIN_FUNCTION:-gasforecast-train}
NETWORK=${NETWORK:-gasforecast-net}
SUBNET=${SUBNET:-gasforecast-subnet}
SUBNET_RANGE=${SUBNET_RANGE:-10.10.0.0/24}
PRIVATE_SERVICES_RANGE=${PRIVATE_SERVICES_RANGE:-gasforecast-private-services}
ROUTER=${ROUTER:-gasforecast-router}
NAT=${NAT:-gasforecast-nat}
VPC_CONNECTOR=${VPC_CONNECTOR:-gasforecast-connector}
CONNECTOR_RANGE=${CONNECTOR_RANGE:-10.8.0.0/28}
MLFLOW_VM=${MLFLOW_VM:-gasforecast-mlflow}
MLFLOW_IP=${MLFLOW_IP:-10.10.0.10}
MLFLOW_PORT=${MLFLOW_PORT:-5000}
MLFLOW_MACHINE_TYPE=${MLFLOW_MACHINE_TYPE:-e2-small}
MLFLOW_TAG=${MLFLOW_TAG:-mlflow-server}
SQL_INSTANCE=${SQL_INSTANCE:-gasforecast-mlflow-db}
SQL_TIER=${SQL_TIER:-db-f1-micro}
SQL_DATABASE=${SQL_DATABASE:-mlflow}
SQL_USER=${SQL_USER:-mlflow}
DB_PASSWORD_SECRET=${DB_PASSWORD_SECRET:-mlflow-db-password}
COMPOSER_ENV=${COMPOSER_ENV:-gasforecast-composer}
COMPOSER_IMAGE_VERSION=${COMPOSER_IMAGE_VERSION:-composer-3-airflow-3.1.0}
INGEST_SA=${INGEST_SA:-gasforecast-ingest}
TRAIN_SA=${TRAIN_SA:-gasforecast-train}
SERVICE_SA=${SERVICE_SA:-gasforecast-service}
MLFLOW_SA=${MLFLOW_SA:-gasforecast-mlflow}
BUILD_SA=${BUILD_SA:-gasforecast-build}
COMPOSER_SA=${COMPOSER_SA:-gasforecast-composer}

# ---- How commands run ---------------------------------------------------------------------------
# fd 3 is the plan/progress channel, so look-ups can print their command while returning a value.
exec 3>&1

# Quote only what the shell would misread, so printed commands stay readable and copy-pasteable.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# print_command PREFIX ARGS...: one gcloud command line on the plan channel.
print_command() {
  local line arg
  line="gcloud --project=$(quote "$PROJECT_ID") --quiet"
  for arg in "${@:2}"; do
    line+=" $(quote "$arg")"
  done
  printf '%s\n' "${1:+$1 }$line" >&3
}

# run ARGS...: a gcloud command that changes something.
run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "$@"
  else
    print_command "+" "$@"
    gcloud "--project=$PROJECT_ID" --quiet "$@"
  fi
}

# run_with_password PASSWORD ARGS...: like run, adding --password without ever printing it.
run_with_password() {
  local password=$1
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "$@" --password=FROM_SECRET
  else
    print_command "+" "$@" --password=FROM_SECRET
    gcloud "--project=$PROJECT_ID" --quiet "$@" --password="$password"
  fi
}

# present ARGS...: true when this describe/list command succeeds and prints something.
# In a dry run every resource counts as absent, so the plan shows each create.
present() {
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" "$@"
    return 1
  fi
  local out
  out=$(gcloud "--project=$PROJECT_ID" --quiet "$@" 2>/dev/null) && [[ -n $out ]]
}

# lookup PLACEHOLDER ARGS...: print a value read with gcloud (the placeholder in a dry run).
lookup() {
  local placeholder=$1
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# lookup:" "$@"
    printf '%s\n' "$placeholder"
  else
    gcloud "--project=$PROJECT_ID" --quiet "$@"
  fi
}

phase() { printf '\n# ==== %s ====\n' "$1" >&3; }
sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$1" "$PROJECT_ID"; }
project_number() { lookup PROJECT_NUMBER projects describe "$PROJECT_ID" --format='value(projectNumber)'; }
pubsub_agent() { printf 'service-%s@gcp-sa-pubsub.iam.gserviceaccount.com' "$(project_number)"; }

grant_project() { run projects add-iam-policy-binding "$PROJECT_ID" --member="$1" --role="$2" --condition=None --format=none; }
grant_bucket() { run storage buckets add-iam-policy-binding "gs://$1" --member="$2" --role="$3" --format=none; }
grant_topic() { run pubsub topics add-iam-policy-binding "$1" --member="$2" --role="$3" --format=none; }
grant_service_account() { run iam service-accounts add-iam-policy-binding "$1" --member="$2" --role="$3" --format=none; }

# ---- Phases -------------------------------------------------------------------------------------
phase_apis() {
  phase "APIs"
  run services enable \
    artifactregistry.googleapis.com cloudbuild.googleapis.com cloudfunctions.googleapis.com \
    run.googleapis.com eventarc.googleapis.com pubsub.googleapis.com storage.googleapis.com \
    compute.googleapis.com vpcaccess.googleapis.com servicenetworking.googleapis.com \
    sqladmin.googleapis.com secretmanager.googleapis.com composer.googleapis.com \
    iam.googleapis.com logging.googleapis.com
}

phase_network() {
  phase "Network: private VPC, Cloud NAT, private services access, Serverless VPC Access, firewall"
  present compute networks describe "$NETWORK" --format='value(name)' ||
    run compute networks create "$NETWORK" --subnet-mode=custom
  present compute networks subnets describe "$SUBNET" --region="$REGION" --format='value(name)' ||
    run compute networks subnets create "$SUBNET" --network="$NETWORK" --region="$REGION" \
      --range="$SUBNET_RANGE" --enable-private-ip-google-access
  # The MLflow VM has no external address; NAT lets it install packages at boot.
  present compute routers describe "$ROUTER" --region="$REGION" --format='value(name)' ||
    run compute routers create "$ROUTER" --network="$NETWORK" --region="$REGION"
  present compute routers nats describe "$NAT" --router="$ROUTER" --region="$REGION" --format='value(name)' ||
    run compute routers nats create "$NAT" --router="$ROUTER" --region="$REGION" \
      --auto-allocate-nat-external-ips --nat-all-subnet-ip-ranges
  # Cloud SQL gets a private IP through a peering with Google's service network.
  present compute addresses describe "$PRIVATE_SERVICES_RANGE" --global --format='value(name)' ||
    run compute addresses create "$PRIVATE_SERVICES_RANGE" --global --purpose=VPC_PEERING \
      --prefix-length=20 --network="$NETWORK"
  present services vpc-peerings list --network="$NETWORK" --service=servicenetworking.googleapis.com \
    --format='value(peering)' ||
    run services vpc-peerings connect --service=servicenetworking.googleapis.com \
      --ranges="$PRIVATE_SERVICES_RANGE" --network="$NETWORK"
  # Functions and Cloud Run reach the MLflow VM's private address through this connector.
  present compute networks vpc-access connectors describe "$VPC_CONNECTOR" --region="$REGION" --format='value(name)' ||
    run compute networks vpc-access connectors create "$VPC_CONNECTOR" --region="$REGION" \
      --network="$NETWORK" --range="$CONNECTOR_RANGE" --min-instances=2 --max-instances=3 --machine-type=e2-micro
  present compute addresses describe "$MLFLOW_VM-ip" --region="$REGION" --format='value(name)' ||
    run compute addresses create "$MLFLOW_VM-ip" --region="$REGION" --subnet="$SUBNET" --addresses="$MLFLOW_IP"
  # Only the connector's range may call MLflow. Operators reach SSH and the MLflow UI only through
  # Identity-Aware Proxy tunnels (its fixed source range; IAM decides who may open one).
  present compute firewall-rules describe "$NETWORK-allow-mlflow-from-connector" --format='value(name)' ||
    run compute firewall-rules create "$NETWORK-allow-mlflow-from-connector" --network="$NETWORK" \
      --direction=INGRESS --action=ALLOW --rules="tcp:$MLFLOW_PORT" --source-ranges="$CONNECTOR_RANGE" \
      --target-tags="$MLFLOW_TAG"
  present compute firewall-rules describe "$NETWORK-allow-iap" --format='value(name)' ||
    run compute firewall-rules create "$NETWORK-allow-iap" --network="$NETWORK" \
      --direction=INGRESS --action=ALLOW --rules="tcp:22,tcp:$MLFLOW_PORT" --source-ranges=35.235.240.0/20 \
      --target-tags="$MLFLOW_TAG"
}

create_bucket() {
  present storage buckets describe "gs://$1" --format='value(name)' ||
    run storage buckets create "gs://$1" --location="$REGION" --uniform-bucket-level-access \
      --public-access-prevention
}

phase_storage() {
  phase "Storage: data bucket (versioned), MLflow artifacts bucket, image repository"
  create_bucket "$DATA_BUCKET"
  # Versioning keeps every generation of curated/history.csv that a model was trained on.
  run storage buckets update "gs://$DATA_BUCKET" --versioning
  create_bucket "$ARTIFACT_BUCKET"
  present artifacts repositories describe "$REPOSITORY" --location="$REGION" --format='value(name)' ||
    run artifacts repositories create "$REPOSITORY" --repository-format=docker --location="$REGION" \
      --description="gasforecast service images"
}

phase_pubsub() {
  phase "Pub/Sub: retrain topic, dead-letter topic and the subscription that keeps dead letters"
  local topic
  for topic in "$RETRAIN_TOPIC" "$DEAD_LETTER_TOPIC"; do
    present pubsub topics describe "$topic" --format='value(name)' || run pubsub topics create "$topic"
  done
  present pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" --format='value(name)' ||
    run pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" --topic="$DEAD_LETTER_TOPIC" \
      --message-retention-duration=7d --expiration-period=never --ack-deadline=60
  # Pub/Sub's own service agent moves undeliverable messages: it must publish to the dead-letter topic.
  run beta services identity create --service=pubsub.googleapis.com --format=none
  grant_topic "$DEAD_LETTER_TOPIC" "serviceAccount:$(pubsub_agent)" roles/pubsub.publisher
}

create_service_account() {
  present iam service-accounts describe "$(sa_email "$1")" --format='value(email)' ||
    run iam service-accounts create "$1" --display-name="$2"
}

phase_identities() {
  phase "Identities: one service account per part, each with only its own roles"
  create_service_account "$INGEST_SA" "gasforecast ingest function"
  create_service_account "$TRAIN_SA" "gasforecast train function"
  create_service_account "$SERVICE_SA" "gasforecast Cloud Run service"
  create_service_account "$MLFLOW_SA" "gasforecast MLflow tracking server VM"
  create_service_account "$BUILD_SA" "gasforecast Cloud Build"
  create_service_account "$COMPOSER_SA" "gasforecast Composer environment"

  local ingest train mlflow build composer
  ingest="serviceAccount:$(sa_email "$INGEST_SA")"
  train="serviceAccount:$(sa_email "$TRAIN_SA")"
  mlflow="serviceAccount:$(sa_email "$MLFLOW_SA")"
  build="serviceAccount:$(sa_email "$BUILD_SA")"
  composer="serviceAccount:$(sa_email "$COMPOSER_SA")"

  # ingest: read uploads, write curated/rejected/archive, publish retrain requests, receive events.
  grant_bucket "$DATA_BUCKET" "$ingest" roles/storage.objectAdmin
  grant_topic "$RETRAIN_TOPIC" "$ingest" roles/pubsub.publisher
  grant_project "$ingest" roles/eventarc.eventReceiver
  # train: read the curated history and hold the training lease object in the data bucket.
  # Models and artifacts go through the MLflow server, so train has no artifact-bucket role.
  grant_bucket "$DATA_BUCKET" "$train" roles/storage.objectAdmin
  # service: needs no Google Cloud role (it reads the champion from MLflow over the VPC connector).
  # MLflow server: its artifact bucket, its database (via the Cloud SQL Auth Proxy), its logs.
  grant_bucket "$ARTIFACT_BUCKET" "$mlflow" roles/storage.objectAdmin
  grant_project "$mlflow" roles/cloudsql.client
  grant_project "$mlflow" roles/logging.logWriter
  # Cloud Build: deploy Cloud Run and functions as the runtime identities above, build function sources.
  grant_project "$build" roles/run.admin
  grant_project "$build" roles/cloudfunctions.developer
  grant_project "$build" roles/cloudbuild.builds.builder
  grant_project "$build" roles/composer.user
  local runtime
  for runtime in "$INGEST_SA" "$TRAIN_SA" "$SERVICE_SA" "$BUILD_SA"; do
    grant_service_account "$(sa_email "$runtime")" "$build" roles/iam.serviceAccountUser
  done
  # Composer: run Airflow, publish the hourly retrain request.
  grant_project "$composer" roles/composer.worker
  grant_topic "$RETRAIN_TOPIC" "$composer" roles/pubsub.publisher
  run beta services identity create --service=composer.googleapis.com --format=none
  grant_service_account "$(sa_email "$COMPOSER_SA")" \
    "serviceAccount:service-$(project_number)@cloudcomposer-accounts.iam.gserviceaccount.com" \
    roles/composer.ServiceAgentV2Ext
  # Storage triggers: Cloud Storage's service agent publishes the object events Eventarc routes.
  local gcs_agent
  gcs_agent=$(lookup GCS_SERVICE_AGENT storage service-agent)
  grant_project "serviceAccount:$gcs_agent" roles/pubsub.publisher
}

phase_sql() {
  phase "Cloud SQL: PostgreSQL for MLflow (private IP only), database, user, password in Secret Manager"
  present sql instances describe "$SQL_INSTANCE" --format='value(name)' ||
    run sql instances create "$SQL_INSTANCE" --database-version=POSTGRES_16 --edition=enterprise \
      --tier="$SQL_TIER" --region="$REGION" --network="projects/$PROJECT_ID/global/networks/$NETWORK" \
      --no-assign-ip --storage-type=SSD --storage-size=10 --storage-auto-increase \
      --availability-type=zonal --backup-start-time=03:00
  present sql databases describe "$SQL_DATABASE" --instance="$SQL_INSTANCE" --format='value(name)' ||
    run sql databases create "$SQL_DATABASE" --instance="$SQL_INSTANCE"

  local password=""
  if ! present secrets describe "$DB_PASSWORD_SECRET" --format='value(name)'; then
    # Alphanumerics only: no quoting trouble in the connection URI the VM builds from it.
    password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
    printf '%s' "$password" | run secrets create "$DB_PASSWORD_SECRET" --replication-policy=automatic --data-file=-
  fi
  if ! present sql users list --instance="$SQL_INSTANCE" --filter="name=$SQL_USER" --format='value(name)'; then
    if [[ -z $password ]]; then
      password=$(lookup FROM_SECRET secrets versions access latest --secret="$DB_PASSWORD_SECRET")
    fi
    run_with_password "$password" sql users create "$SQL_USER" --instance="$SQL_INSTANCE"
  fi
  run secrets add-iam-policy-binding "$DB_PASSWORD_SECRET" --member="serviceAccount:$(sa_email "$MLFLOW_SA")" \
    --role=roles/secretmanager.secretAccessor --format=none
}

phase_mlflow() {
  phase "MLflow tracking server: a VM with a private address only"
  local metadata
  metadata="mlflow-artifact-bucket=$ARTIFACT_BUCKET,mlflow-sql-instance=$PROJECT_ID:$REGION:$SQL_INSTANCE"
  metadata+=",mlflow-db-name=$SQL_DATABASE,mlflow-db-user=$SQL_USER,mlflow-db-secret=$DB_PASSWORD_SECRET"
  metadata+=",mlflow-port=$MLFLOW_PORT,enable-oslogin=TRUE"
  if present compute instances describe "$MLFLOW_VM" --zone="$ZONE" --format='value(name)'; then
    # Keep the VM's configuration in step with this script; it applies at the next boot.
    run compute instances add-metadata "$MLFLOW_VM" --zone="$ZONE" --metadata="$metadata" \
      --metadata-from-file="startup-script=$SCRIPT_DIR/mlflow-vm-startup.sh"
  else
    run compute instances create "$MLFLOW_VM" --zone="$ZONE" --machine-type="$MLFLOW_MACHINE_TYPE" \
      --subnet="$SUBNET" --private-network-ip="$MLFLOW_IP" --no-address \
      --service-account="$(sa_email "$MLFLOW_SA")" --scopes=cloud-platform --tags="$MLFLOW_TAG" \
      --image-family=debian-12 --image-project=debian-cloud --boot-disk-size=20GB --shielded-secure-boot \
      --metadata="$metadata" --metadata-from-file="startup-script=$SCRIPT_DIR/mlflow-vm-startup.sh"
  fi
}

phase_composer() {
  phase "Cloud Composer 3 environment for the hourly retrain DAG (takes about 25 minutes)"
  present composer environments describe "$COMPOSER_ENV" --location="$REGION" --format='value(name)' ||
    run composer environments create "$COMPOSER_ENV" --location="$REGION" \
      --image-version="$COMPOSER_IMAGE_VERSION" --environment-size=small \
      --service-account="$(sa_email "$COMPOSER_SA")" \
      --env-variables="AIRFLOW_VAR_GASFORECAST_PROJECT=$PROJECT_ID,AIRFLOW_VAR_GASFORECAST_RETRAIN_TOPIC=$RETRAIN_TOPIC"
  # The build uploads the DAG into the environment's bucket: allow it that bucket only.
  local dags_prefix dags_bucket
  dags_prefix=$(lookup gs://COMPOSER_BUCKET/dags composer environments describe "$COMPOSER_ENV" \
    --location="$REGION" --format='value(config.dagGcsPrefix)')
  dags_bucket=${dags_prefix#gs://}
  dags_bucket=${dags_bucket%%/*}
  grant_bucket "$dags_bucket" "serviceAccount:$(sa_email "$BUILD_SA")" roles/storage.objectAdmin
}

phase_dead_letter() {
  phase "Dead letters for the train trigger (run after the first build has deployed $TRAIN_FUNCTION)"
  # Eventarc creates the push subscription behind --trigger-topic; find it through the trigger.
  local trigger subscription
  trigger=$(lookup projects/PROJECT/locations/REGION/triggers/TRAIN_TRIGGER functions describe "$TRAIN_FUNCTION" \
    --gen2 --region="$REGION" --format='value(eventTrigger.trigger)')
  subscription=$(lookup projects/PROJECT/subscriptions/TRAIN_SUBSCRIPTION eventarc triggers describe "${trigger##*/}" \
    --location="$REGION" --format='value(transport.pubsub.subscription)')
  run pubsub subscriptions update "${subscription##*/}" --dead-letter-topic="$DEAD_LETTER_TOPIC" \
    --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" --min-retry-delay=10s --max-retry-delay=600s
  run pubsub subscriptions add-iam-policy-binding "${subscription##*/}" \
    --member="serviceAccount:$(pubsub_agent)" --role=roles/pubsub.subscriber --format=none
}

for name in "${PHASES[@]}"; do
  "phase_${name//-/_}"
done
if [[ $DRY_RUN -eq 1 ]]; then
  printf '\n# dry run: nothing was changed\n' >&3
fi
