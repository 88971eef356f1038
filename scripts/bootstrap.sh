#!/usr/bin/env bash
# Create every Google Cloud resource gasforecast needs, in order, with least-privilege identities.
#
# Safe to re-run: each resource is created only when a describe finds nothing, settings that can
# drift (lifecycle rules, cleanup policies, the dead-letter subscription, metrics, alert policies,
# the scheduler job, the VM's metadata, the custom role's permissions, bucket bindings' conditions)
# are re-applied, grants earlier versions made and this one does not are removed, and IAM bindings
# are otherwise additive. Settings only a restart changes (the VM's machine type, Cloud SQL's tier)
# are compared, and any difference is reported at the end with the command that fixes it. Grants to a new service account or service agent are retried with backoff
# while IAM makes the account usable. With --dry-run nothing is run: every command is printed
# instead (checks and look-ups as "# check:" and "# lookup:" comments), so the whole plan can be
# reviewed first; only the alert policies are rendered into MONITORING_DIR, for review.
#
# Usage: scripts/bootstrap.sh [--dry-run] [--scheduler composer|cloud-scheduler] [PHASE...]
#   Phases, in order: apis network storage pubsub identities sql mlflow schedule  (default: all of them)
#   Then, to build and deploy (again at every change): scripts/bootstrap.sh build
#   After the first build: scripts/bootstrap.sh alerting  (needs ALERT_EMAIL)
#   --scheduler (or SCHEDULER): what publishes the hourly retrain message: composer (the default, a
#     Cloud Composer 3 environment running dag_airflow/) or cloud-scheduler (a Cloud Scheduler job).
#     The build phase passes the same choice to the build (_SCHEDULER).
# Names come from the environment; defaults match gasforecast/platform/config.py and cloudbuild.yaml.
# Versions come from deploy/versions.env. docs/gcp-setup.md walks through each phase.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=/dev/null  # (deploy/versions.env: plain NAME=value lines)
source "$REPO_ROOT/deploy/versions.env"
ALL_PHASES=(apis network storage pubsub identities sql mlflow schedule)

usage_error() {
  echo "bootstrap.sh: $1 (try --help)" >&2
  exit 2
}

DRY_RUN=0
SCHEDULER=${SCHEDULER:-composer}
PHASES=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --scheduler=*) SCHEDULER=${1#--scheduler=} ;;
    --scheduler)
      [[ $# -ge 2 ]] || usage_error "--scheduler needs a value"
      SCHEDULER=$2
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    all) PHASES+=("${ALL_PHASES[@]}") ;;
    apis | network | storage | pubsub | identities | sql | mlflow | schedule | build | alerting) PHASES+=("$1") ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[[ ${#PHASES[@]} -gt 0 ]] || PHASES=("${ALL_PHASES[@]}")
case $SCHEDULER in
  composer | cloud-scheduler) ;;
  *) usage_error "--scheduler must be composer or cloud-scheduler, not '$SCHEDULER'" ;;
esac

# Names, and how commands run (run, present, lookup, ...): shared with scripts/teardown.sh.
# shellcheck source=scripts/deploy-lib.sh
source "$SCRIPT_DIR/deploy-lib.sh"

if [[ $DRY_RUN -eq 0 && " ${PHASES[*]} " == *" alerting "* && -z $ALERT_EMAIL ]]; then
  usage_error "the alerting phase e-mails ALERT_EMAIL: set it (export ALERT_EMAIL=you@example.com)"
fi

# render TEMPLATE NAME=VALUE...: write TEMPLATE to MONITORING_DIR with each ${NAME} replaced and
# print the new file's path. Only upper-case placeholders are ours (Cloud Monitoring's own
# variables, e.g. ${metric.label.event}, stay); one left without a value is an error.
render() {
  local template=$1 text pair out
  shift
  text=$(<"$template")
  for pair in "$@"; do
    text=${text//"\${${pair%%=*}}"/"${pair#*=}"}
  done
  if [[ $text =~ \$\{[A-Z_]+\} ]]; then
    echo "bootstrap.sh: $template: no value for ${BASH_REMATCH[0]}" >&2
    return 1
  fi
  mkdir -p "$MONITORING_DIR"
  out="$MONITORING_DIR/$(basename "$template")"
  printf '%s\n' "$text" >"$out"
  printf '%s\n' "$out"
}


# grant_project MEMBER ROLE [CONDITION]: a project binding, limited by an IAM condition if given.
grant_project() {
  run_grant projects add-iam-policy-binding "$PROJECT_ID" --member="$1" --role="$2" --condition="${3:-None}" --format=none
}
grant_repository() {
  run_grant artifacts repositories add-iam-policy-binding "$1" --location="$REGION" --member="$2" --role="$3" --format=none
}
grant_topic() { run_grant pubsub topics add-iam-policy-binding "$1" --member="$2" --role="$3" --format=none; }
grant_secret() { run_grant secrets add-iam-policy-binding "$1" --member="$2" --role="$3" --format=none; }
grant_service_account() { run_grant iam service-accounts add-iam-policy-binding "$1" --member="$2" --role="$3" --format=none; }

# grant_bucket BUCKET MEMBER ROLE [CONDITION]: a bucket binding, limited by an IAM condition if given.
# A conditional binding replaces the member's bindings of that role under another condition (an
# earlier version of this script's, with other prefixes), so a re-run reconciles a changed condition.
grant_bucket() {
  local condition=()
  if [[ -n ${4:-} ]]; then
    condition=(--condition="$4")
    local title=${4#*title=}
    revoke_other_conditions "$1" "$2" "$3" "${title%%;*}"
  fi
  run_grant storage buckets add-iam-policy-binding "gs://$1" --member="$2" --role="$3" "${condition[@]}" --format=none
}

# bucket_bindings BUCKET: the bucket's bindings, one "role,member,condition title" line each.
bucket_bindings() {
  gcloud "--project=$PROJECT_ID" --quiet storage buckets get-iam-policy "gs://$1" --flatten='bindings[].members' \
    --format='csv[no-heading](bindings.role,bindings.members,bindings.condition.title)'
}

# revoke_other_conditions BUCKET MEMBER ROLE TITLE: remove MEMBER's ROLE bindings on BUCKET whose
# condition is not the one titled TITLE. For the seconds until the grant that follows, the member
# lacks the role: a function call in that window fails and is retried by its trigger.
revoke_other_conditions() {
  local action=(storage buckets remove-iam-policy-binding "gs://$1" --member="$2" --role="$3" --all --format=none)
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" storage buckets get-iam-policy "gs://$1" --flatten='bindings[].members' \
      --format='csv[no-heading](bindings.role,bindings.members,bindings.condition.title)'
    print_command "# if under another condition:" "${action[@]}"
  elif bucket_bindings "$1" | awk -F, -v role="$3" -v member="$2" -v title="$4" \
    '$1 == role && $2 == member && $3 != title { found = 1 } END { exit !found }'; then
    run "${action[@]}"
  fi
}

# prefix_condition BUCKET TITLE PREFIX...: an IAM condition (the --condition value, ';'-separated
# because the expression has commas) that admits the objects whose names start with one of the
# prefixes, and listing with a --prefix inside one of them. Its title names the prefixes, so a
# re-run after they changed finds the old binding by its title (grant_bucket replaces it). Conditions need uniform bucket-level
# access, which every bucket here has.
prefix_condition() {
  local bucket=$1 title=$2 expression="" prefix
  shift 2
  for prefix in "$@"; do
    expression+="${expression:+ || }resource.name.startsWith(\"projects/_/buckets/$bucket/objects/$prefix\")"
    expression+=" || api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"$prefix\")"
  done
  printf '^;^title=%s (%s);description=objects under %s only;expression=%s' "$title" "$*" "$*" "$expression"
}

# revoke_unconditional BUCKET MEMBER ROLE: remove a binding without condition that an earlier
# version of this script granted, so a re-run narrows the account to its conditional bindings.
revoke_unconditional() {
  local action=(storage buckets remove-iam-policy-binding "gs://$1" --member="$2" --role="$3" --condition=None --format=none)
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" storage buckets get-iam-policy "gs://$1" --flatten='bindings[].members' \
      --format='csv[no-heading](bindings.role,bindings.members,bindings.condition.title)'
    print_command "# if found:" "${action[@]}"
  elif bucket_bindings "$1" | awk -F, -v role="$3" -v member="$2" \
    '$1 == role && $2 == member && $3 == "" { found = 1 } END { exit !found }'; then
    run "${action[@]}"
  fi
}

DRIFT=()

# check_setting WHAT WANT CHECK... -- FIX...: a setting this script owns that changes only with a
# restart (the MLflow VM's machine type, Cloud SQL's tier): read it with CHECK and, when it is not
# WANT, record the drift and the FIX command, reported at the end, rather than restart a running
# part unasked. A dry run prints both.
check_setting() {
  local what=$1 want=$2 check=() have
  shift 2
  while [[ $1 != -- ]]; do
    check+=("$1")
    shift
  done
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" "${check[@]}"
    print_command "# if different:" "$@"
    return 0
  fi
  have=$(gcloud "--project=$PROJECT_ID" --quiet "${check[@]}")
  [[ $have == "$want" ]] || DRIFT+=("$what is $have, this script sets $want: $(print_command "" "$@" 3>&1)")
}

# revoke_project_role MEMBER ROLE: remove a project binding that an earlier version of this script
# granted and this one no longer does, so a re-run narrows the account.
revoke_project_role() {
  local check=(projects get-iam-policy "$PROJECT_ID" --flatten='bindings[].members'
    --format='csv[no-heading](bindings.role,bindings.members)')
  local action=(projects remove-iam-policy-binding "$PROJECT_ID" --member="$1" --role="$2" --all --format=none)
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" "${check[@]}"
    print_command "# if found:" "${action[@]}"
  elif grep -qxF "$2,$1" <(gcloud "--project=$PROJECT_ID" --quiet "${check[@]}"); then
    run "${action[@]}"
  fi
}

# function_sources_condition: the IAM condition (a --condition value) admitting the bucket Cloud
# Functions (2nd gen) copies each function's sources into, gcf-v2-sources-PROJECT_NUMBER-REGION.
function_sources_condition() {
  local bucket
  bucket="projects/_/buckets/gcf-v2-sources-$(project_number)-$REGION"
  printf '^;^title=function sources;description=the bucket Cloud Functions keeps function sources in;'
  printf 'expression=resource.name == "%s" || resource.name.startsWith("%s/")' "$bucket" "$bucket"
}

# ---- Phases -------------------------------------------------------------------------------------
phase_apis() {
  phase "APIs"
  local scheduler_api=composer.googleapis.com
  [[ $SCHEDULER == composer ]] || scheduler_api=cloudscheduler.googleapis.com
  run services enable \
    artifactregistry.googleapis.com cloudbuild.googleapis.com cloudfunctions.googleapis.com \
    run.googleapis.com eventarc.googleapis.com pubsub.googleapis.com storage.googleapis.com \
    compute.googleapis.com vpcaccess.googleapis.com servicenetworking.googleapis.com \
    sqladmin.googleapis.com secretmanager.googleapis.com "$scheduler_api" \
    iam.googleapis.com logging.googleapis.com monitoring.googleapis.com
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
  # The train function reaches the MLflow VM's private address through this connector, which nothing
  # else uses (the public service has none: it reads the serving pointer in the data bucket).
  present compute networks vpc-access connectors describe "$VPC_CONNECTOR" --region="$REGION" --format='value(name)' ||
    run compute networks vpc-access connectors create "$VPC_CONNECTOR" --region="$REGION" \
      --network="$NETWORK" --range="$CONNECTOR_RANGE" --min-instances=2 --max-instances=3 --machine-type=e2-micro
  present compute addresses describe "$MLFLOW_VM-ip" --region="$REGION" --format='value(name)' ||
    run compute addresses create "$MLFLOW_VM-ip" --region="$REGION" --subnet="$SUBNET" --addresses="$MLFLOW_IP"
  # One path per caller of MLflow: the train function through its connector's range, operators through
  # Identity-Aware Proxy tunnels for SSH and the MLflow UI (IAP's fixed source range; IAM decides who
  # may open one). Composer's DAG only publishes to Pub/Sub and needs no path. A new caller gets its
  # own connector and rule, never a share of this one.
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
  phase "Storage: uploads bucket (the ingest trigger's), data bucket (versioned), MLflow artifacts bucket, image repository"
  # Users drop CSVs here; ingest deletes each upload it has processed. The lifecycle rule removes
  # strays after 30 days (docs/operations.md#buckets-and-lifecycle).
  create_bucket "$UPLOADS_BUCKET"
  run storage buckets update "gs://$UPLOADS_BUCKET" --lifecycle-file="$REPO_ROOT/deploy/storage/uploads-bucket-lifecycle.json"
  # Versioning keeps every generation of curated/history.csv that a model was trained on; the
  # lifecycle rules bound what that keeps and move archive/ to Coldline.
  create_bucket "$DATA_BUCKET"
  run storage buckets update "gs://$DATA_BUCKET" --versioning \
    --lifecycle-file="$REPO_ROOT/deploy/storage/data-bucket-lifecycle.json"
  create_bucket "$ARTIFACT_BUCKET"
  present artifacts repositories describe "$REPOSITORY" --location="$REGION" --format='value(name)' ||
    run artifacts repositories create "$REPOSITORY" --repository-format=docker --location="$REGION" \
      --description="gasforecast service images"
  # Every build pushes the service's and both functions' images here (the functions' through
  # --docker-repository): keep the last 10 of each (rollback targets), delete the rest after 30 days.
  set_image_cleanup "$REPOSITORY"
  # `gcloud builds submit` uploads each build's sources here; they go after 30 days.
  create_bucket "$BUILD_SOURCES_BUCKET"
  run storage buckets update "gs://$BUILD_SOURCES_BUCKET" \
    --lifecycle-file="$REPO_ROOT/deploy/storage/build-sources-lifecycle.json"
}

# set_image_cleanup REPOSITORY: the image cleanup policies of deploy/storage/ on a Docker repository
# in REGION (Artifact Registry keeps a version any Keep policy matches, whatever the Delete ones say).
set_image_cleanup() {
  run artifacts repositories set-cleanup-policies "$1" --location="$REGION" \
    --policy="$REPO_ROOT/deploy/storage/image-cleanup-policies.json" --no-dry-run --format=none
}

phase_pubsub() {
  phase "Pub/Sub: retrain topic, dead-letter topic and the subscription that keeps dead letters"
  local topic
  for topic in "$RETRAIN_TOPIC" "$DEAD_LETTER_TOPIC"; do
    present pubsub topics describe "$topic" --format='value(name)' || run pubsub topics create "$topic"
  done
  # An existing subscription gets the settings again, so a re-run reconciles a change.
  local keep=(--message-retention-duration=7d --expiration-period=never --ack-deadline=60)
  when_present pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" --format='value(name)' -- \
    pubsub subscriptions update "$DEAD_LETTER_SUBSCRIPTION" "${keep[@]}"
  present pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" --format='value(name)' ||
    run pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" --topic="$DEAD_LETTER_TOPIC" "${keep[@]}"
  # Pub/Sub's own service agent moves undeliverable messages: it must publish to the dead-letter topic
  # and acknowledge the moved message on the source subscription. That subscription is the train
  # trigger's, which Eventarc creates (and recreates) at deploy time, so the agent's subscriber role
  # is on the project: no binding on a subscription would outlive its trigger.
  run beta services identity create --service=pubsub.googleapis.com --format=none
  grant_topic "$DEAD_LETTER_TOPIC" "serviceAccount:$(pubsub_agent)" roles/pubsub.publisher
  grant_project "serviceAccount:$(pubsub_agent)" roles/pubsub.subscriber
}

# trigger_settings_role: the project's custom role that lets the build read each function's Eventarc
# trigger and set ack deadline, retry and dead-letter policy on its subscription; a re-run sets the
# permissions this script lists (so a change here reaches the project). A role deleted less than 37
# days ago (a teardown) still holds its id: it is undeleted rather than created.
trigger_settings_role() {
  local permissions=eventarc.triggers.get,pubsub.subscriptions.get,pubsub.subscriptions.update found
  local undelete=(iam roles undelete "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --format=none)
  local update=(iam roles update "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --permissions="$permissions" --format=none)
  found=$(existing iam roles describe "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --format='value(name,deleted)')
  if [[ -z $found ]]; then
    run iam roles create "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --permissions="$permissions" \
      --title="gasforecast trigger subscription settings" --stage=GA --format=none
    if [[ $DRY_RUN -eq 1 ]]; then
      print_command "# if deleted:" "${undelete[@]}"
      print_command "# if found:" "${update[@]}"
    fi
    return
  fi
  [[ $found != *True* ]] || run "${undelete[@]}"
  run "${update[@]}"
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
  [[ $SCHEDULER != composer ]] || create_service_account "$COMPOSER_SA" "gasforecast Composer environment"

  local ingest train mlflow build
  ingest="serviceAccount:$(sa_email "$INGEST_SA")"
  train="serviceAccount:$(sa_email "$TRAIN_SA")"
  mlflow="serviceAccount:$(sa_email "$MLFLOW_SA")"
  build="serviceAccount:$(sa_email "$BUILD_SA")"

  # ingest: read and delete uploads; read and write the data bucket's curated/, archive/ (with the
  # receipts), rejected/ and held/ (each series under <area>/series/<id>/); read the series
  # definitions (series/, written by operators); publish retrain requests; receive the storage
  # trigger's events.
  grant_bucket "$UPLOADS_BUCKET" "$ingest" roles/storage.objectUser
  grant_bucket "$DATA_BUCKET" "$ingest" roles/storage.objectUser \
    "$(prefix_condition "$DATA_BUCKET" "ingest data prefixes" curated/ archive/ rejected/ held/)"
  grant_bucket "$DATA_BUCKET" "$ingest" roles/storage.objectViewer \
    "$(prefix_condition "$DATA_BUCKET" "ingest reads series" series/)"
  revoke_unconditional "$DATA_BUCKET" "$ingest" roles/storage.objectAdmin
  grant_topic "$RETRAIN_TOPIC" "$ingest" roles/pubsub.publisher
  grant_project "$ingest" roles/eventarc.eventReceiver
  # train: read the curated history and the series definitions (series/); hold the training lease
  # (locks/), write the forecast ledger (forecasts/) and publish the champion for the service
  # (serving/), each series under <area>/series/<id>/; fan the hourly request out into one retrain
  # message per series. Models and artifacts go through the MLflow server, so no artifact-bucket role.
  grant_bucket "$DATA_BUCKET" "$train" roles/storage.objectViewer \
    "$(prefix_condition "$DATA_BUCKET" "train reads curated and series" curated/ series/)"
  grant_bucket "$DATA_BUCKET" "$train" roles/storage.objectUser \
    "$(prefix_condition "$DATA_BUCKET" "train writes" locks/ forecasts/ serving/)"
  revoke_unconditional "$DATA_BUCKET" "$train" roles/storage.objectAdmin
  grant_topic "$RETRAIN_TOPIC" "$train" roles/pubsub.publisher
  # service: read what training publishes for it under serving/ (the pointer and the documents it
  # names), nothing else: no other prefix, no registry.
  grant_bucket "$DATA_BUCKET" "serviceAccount:$(sa_email "$SERVICE_SA")" roles/storage.objectViewer \
    "$(prefix_condition "$DATA_BUCKET" "service reads serving" serving/)"
  # MLflow server: its artifact bucket, its database (via the Cloud SQL Auth Proxy), its logs.
  grant_bucket "$ARTIFACT_BUCKET" "$mlflow" roles/storage.objectAdmin
  grant_project "$mlflow" roles/cloudsql.client
  grant_project "$mlflow" roles/logging.logWriter
  # Cloud Build runs cloudbuild.yaml as its own account, with the roles Google documents for deploying
  # Cloud Run and functions and nothing project-wide that writes data (no cloudbuild.builds.builder):
  # deploy the service and the functions and set who may invoke them (run.admin: the IAM policy of
  # --allow-unauthenticated and add-invoker-policy-binding), write its logs (CLOUD_LOGGING_ONLY), push
  # to the image repository (the service's image, and the functions' via --docker-repository), read
  # the sources `gcloud builds submit` uploads, and, as the functions' build account, read the sources
  # Cloud Functions copies into its own bucket (made at the first deploy, so no bucket binding can
  # precede it: a project binding limited to that bucket by a condition). The trigger subscriptions'
  # delivery settings take a custom role: no predefined one updates subscriptions without also
  # creating, deleting and consuming them.
  trigger_settings_role
  grant_project "$build" "projects/$PROJECT_ID/roles/$TRIGGER_SETTINGS_ROLE"
  grant_project "$build" roles/run.admin
  grant_project "$build" roles/cloudfunctions.developer
  grant_project "$build" roles/logging.logWriter
  grant_repository "$REPOSITORY" "$build" roles/artifactregistry.writer
  grant_bucket "$BUILD_SOURCES_BUCKET" "$build" roles/storage.objectViewer
  grant_project "$build" roles/storage.objectViewer "$(function_sources_condition)"
  revoke_project_role "$build" roles/cloudbuild.builds.builder
  [[ $SCHEDULER != composer ]] || grant_project "$build" roles/composer.user
  local runtime
  for runtime in "$INGEST_SA" "$TRAIN_SA" "$SERVICE_SA" "$BUILD_SA"; do
    grant_service_account "$(sa_email "$runtime")" "$build" roles/iam.serviceAccountUser
  done
  if [[ $SCHEDULER == composer ]]; then
    # Composer: run Airflow, publish the hourly retrain request.
    local composer
    composer="serviceAccount:$(sa_email "$COMPOSER_SA")"
    grant_project "$composer" roles/composer.worker
    grant_topic "$RETRAIN_TOPIC" "$composer" roles/pubsub.publisher
    run beta services identity create --service=composer.googleapis.com --format=none
    grant_service_account "$(sa_email "$COMPOSER_SA")" \
      "serviceAccount:service-$(project_number)@cloudcomposer-accounts.iam.gserviceaccount.com" \
      roles/composer.ServiceAgentV2Ext
  fi
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
  check_setting "Cloud SQL $SQL_INSTANCE's tier (a change restarts the database)" "$SQL_TIER" \
    sql instances describe "$SQL_INSTANCE" --format='value(settings.tier)' -- \
    sql instances patch "$SQL_INSTANCE" --tier="$SQL_TIER"
  present sql databases describe "$SQL_DATABASE" --instance="$SQL_INSTANCE" --format='value(name)' ||
    run sql databases create "$SQL_DATABASE" --instance="$SQL_INSTANCE"

  local password=""
  if ! present secrets describe "$DB_PASSWORD_SECRET" --format='value(name)'; then
    # Alphanumerics only: no quoting trouble in the connection URI the VM builds from it.
    password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
    # Fed by process substitution, not a pipe: a dry run reads nothing, and under pipefail the
    # unread pipe's SIGPIPE (exit 141) would end the script.
    run secrets create "$DB_PASSWORD_SECRET" --replication-policy=automatic --data-file=- < <(printf '%s' "$password")
  fi
  if ! present sql users list --instance="$SQL_INSTANCE" --filter="name=$SQL_USER" --format='value(name)'; then
    if [[ -z $password ]]; then
      password=$(lookup FROM_SECRET secrets versions access latest --secret="$DB_PASSWORD_SECRET")
    fi
    run_with_password "$password" sql users create "$SQL_USER" --instance="$SQL_INSTANCE"
  fi
  grant_secret "$DB_PASSWORD_SECRET" "serviceAccount:$(sa_email "$MLFLOW_SA")" roles/secretmanager.secretAccessor
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
  check_setting "VM $MLFLOW_VM's machine type (change it while the VM is stopped)" "$MLFLOW_MACHINE_TYPE" \
    compute instances describe "$MLFLOW_VM" --zone="$ZONE" --format='value(machineType.basename())' -- \
    compute instances set-machine-type "$MLFLOW_VM" --zone="$ZONE" --machine-type="$MLFLOW_MACHINE_TYPE"
}

phase_schedule() {
  if [[ $SCHEDULER == composer ]]; then
    schedule_with_composer
  else
    schedule_with_cloud_scheduler
  fi
}

schedule_with_composer() {
  phase "Cloud Composer 3 environment for the hourly retrain DAG (takes about 25 minutes)"
  # The image's Airflow is the one the DAG tests run on (deploy/versions.env).
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

schedule_with_cloud_scheduler() {
  phase "Cloud Scheduler job publishing the hourly retrain message (instead of Composer)"
  # Cloud Scheduler publishes as its service agent: allow it the retrain topic only.
  run beta services identity create --service=cloudscheduler.googleapis.com --format=none
  grant_topic "$RETRAIN_TOPIC" \
    "serviceAccount:service-$(project_number)@gcp-sa-cloudscheduler.iam.gserviceaccount.com" roles/pubsub.publisher
  # The DAG's message (docs/messages.md): reason "schedule", attribute reason=schedule. A job's
  # body is fixed, so requested_at is when this ran; training logs it and depends on it for nothing.
  # Retries like the DAG's: 4, from 30 s, doubling, at most 10 minutes apart.
  local body settings
  body=$(printf '{"reason": "schedule", "requested_at": "%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  settings=(--location="$REGION" --schedule="0 * * * *" --time-zone=Etc/UTC --topic="$RETRAIN_TOPIC"
    --message-body="$body" --max-retry-attempts=4 --min-backoff=30s --max-backoff=600s)
  if present scheduler jobs describe "$SCHEDULER_JOB" --location="$REGION" --format='value(name)'; then
    run scheduler jobs update pubsub "$SCHEDULER_JOB" "${settings[@]}" --update-attributes=reason=schedule
  else
    run scheduler jobs create pubsub "$SCHEDULER_JOB" "${settings[@]}" --attributes=reason=schedule \
      --description="gasforecast: hourly retrain request (docs/messages.md)"
  fi
}

# build_fallback_region REGION: where to build when Cloud Build refuses REGION. Some new projects may
# run builds only in us-central1, us-west2, europe-west1, asia-east1, australia-southeast1 and
# southamerica-east1 (https://cloud.google.com/build/docs/locations): the nearest of those.
build_fallback_region() {
  case $1 in
    europe-* | me-* | africa-*) echo europe-west1 ;;
    asia-*) echo asia-east1 ;;
    australia-*) echo australia-southeast1 ;;
    southamerica-*) echo southamerica-east1 ;;
    us-west*) echo us-west2 ;;
    *) echo us-central1 ;;
  esac
}

phase_build() {
  phase "Build and deploy: cloudbuild.yaml in Cloud Build, as $BUILD_SA, with this script's names"
  # The functions and the service reach MLflow at the private address of the VM the mlflow phase made.
  local uri
  uri="http://$(lookup "$MLFLOW_IP" compute instances describe "$MLFLOW_VM" --zone="$ZONE" \
    --format='value(networkInterfaces[0].networkIP)'):$MLFLOW_PORT"
  local substitutions="_REGION=$REGION,_REPOSITORY=$REPOSITORY,_SERVICE_NAME=$SERVICE_NAME"
  substitutions+=",_INGEST_FUNCTION=$INGEST_FUNCTION,_TRAIN_FUNCTION=$TRAIN_FUNCTION"
  substitutions+=",_UPLOADS_BUCKET=$UPLOADS_BUCKET,_DATA_BUCKET=$DATA_BUCKET,_ARTIFACT_BUCKET=$ARTIFACT_BUCKET"
  substitutions+=",_RETRAIN_TOPIC=$RETRAIN_TOPIC,_VPC_CONNECTOR=$VPC_CONNECTOR,_SCHEDULER=$SCHEDULER"
  substitutions+=",_COMPOSER_ENV=$COMPOSER_ENV,_INGEST_SA=$INGEST_SA,_TRAIN_SA=$TRAIN_SA,_SERVICE_SA=$SERVICE_SA"
  substitutions+=",_BUILD_SA=$BUILD_SA,_DEAD_LETTER_TOPIC=$DEAD_LETTER_TOPIC,_MAX_DELIVERY_ATTEMPTS=$MAX_DELIVERY_ATTEMPTS"
  substitutions+=",_MLFLOW_TRACKING_URI=$uri${BUILD_SUBSTITUTIONS:+,$BUILD_SUBSTITUTIONS}"
  local submit=(builds submit "$REPO_ROOT" --config="$REPO_ROOT/cloudbuild.yaml"
    --gcs-source-staging-dir="gs://$BUILD_SOURCES_BUCKET/source"
    --service-account="projects/$PROJECT_ID/serviceAccounts/$(sa_email "$BUILD_SA")" --substitutions="$substitutions")
  local fallback=${BUILD_FALLBACK_REGION:-$(build_fallback_region "$BUILD_REGION")}
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "${submit[@]}" --region="$BUILD_REGION"
    print_command "# if refused (FAILED_PRECONDITION):" "${submit[@]}" --region="$fallback"
    return 0
  fi
  print_command "+" "${submit[@]}" --region="$BUILD_REGION"
  # stderr is shown as it comes and kept, to tell a refused region from a failed build (stdout goes
  # round the pipe through fd 4; pipefail gives gcloud's status).
  local errors status=0
  errors=$(mktemp)
  { gcloud "--project=$PROJECT_ID" --quiet "${submit[@]}" --region="$BUILD_REGION" 2>&1 >&4 | tee "$errors" >&2; } 4>&1 ||
    status=$?
  if [[ $status -ne 0 && $fallback != "$BUILD_REGION" ]] && grep -qi 'failed_precondition' "$errors" &&
    grep -qiE 'region|concurrent builds quota' "$errors"; then
    rm -f "$errors"
    printf '# Cloud Build refused to build in %s (FAILED_PRECONDITION: some new projects may build only in a few\n' \
      "$BUILD_REGION" >&3
    printf '# regions, https://cloud.google.com/build/docs/locations). Building in %s instead; the deploy region\n' \
      "$fallback" >&3
    printf '# stays %s. Next time: export BUILD_REGION=%s\n' "$REGION" "$fallback" >&3
    run "${submit[@]}" --region="$fallback"
    return
  fi
  rm -f "$errors"
  return "$status"
}

# uptime_check NAME HOST PATH PERIOD_MINUTES [FLAG...]: the id of the HTTPS uptime check NAME on
# HOST, created with these settings when no check has that display name.
uptime_check() {
  local name=$1 host=$2 path=$3 period=$4 found
  shift 4
  found=$(existing monitoring uptime list-configs --filter="displayName=\"$name\"" --format='value(name)')
  if [[ -z $found ]]; then
    found=$(create_reading "projects/$PROJECT_ID/uptimeCheckConfigs/$name-ID" monitoring uptime create "$name" \
      --resource-type=uptime-url --resource-labels="host=$host,project_id=$PROJECT_ID" --protocol=https \
      --path="$path" --period="$period" --timeout=30 --regions=europe,usa-virginia,usa-oregon \
      --status-classes=2xx "$@" --format='value(name)')
  fi
  printf '%s\n' "${found##*/}"
}

phase_alerting() {
  phase "Alerting: log-based metric, uptime checks, alert policies mailing ${ALERT_EMAIL:-ALERT_EMAIL} (after the first build)"
  # Log-based metrics from deploy/monitoring/metrics/, each named after its file.
  local config metric
  for config in "$REPO_ROOT"/deploy/monitoring/metrics/*.yaml; do
    metric=$(basename "$config" .yaml)
    if present logging metrics describe "$metric" --format='value(name)'; then
      run logging metrics update "$metric" --config-from-file="$config"
    else
      run logging metrics create "$metric" --config-from-file="$config"
    fi
  done

  # Uptime checks on the public service: the page answers; /readyz says "ready"; /readyz says the
  # data is fresh (the service computes data_stale itself, so no log line or visitor is needed).
  local url host up ready fresh
  url=$(lookup https://SERVICE_HOST run services describe "$SERVICE_NAME" --region="$REGION" --format='value(status.url)')
  host=${url#https://}
  host=${host%%/*}
  up=$(uptime_check "${UPTIME_CHECKS[0]}" "$host" / 5)
  ready=$(uptime_check "${UPTIME_CHECKS[1]}" "$host" /readyz 5 --matcher-type=matches-json-path \
    --json-path='$.status' --json-path-matcher-type=regex-match --matcher-content='^"?ready"?$')
  fresh=$(uptime_check "${UPTIME_CHECKS[2]}" "$host" /readyz 15 --matcher-type=matches-json-path \
    --json-path='$.data_stale' --json-path-matcher-type=exact-match --matcher-content=false)

  # One e-mail notification channel, found by its address.
  local channel
  channel=$(existing beta monitoring channels list \
    --filter="type=\"email\" AND labels.email_address=\"${ALERT_EMAIL:-ALERT_EMAIL}\"" --format='value(name)')
  [[ -n $channel ]] ||
    channel=$(create_reading "projects/$PROJECT_ID/notificationChannels/CHANNEL_ID" beta monitoring channels create \
      --display-name="$ALERT_CHANNEL_NAME" --type=email --channel-labels="email_address=${ALERT_EMAIL:-ALERT_EMAIL}" \
      --format='value(name)')

  # Alert policies from deploy/monitoring/policies/, rendered with this project's names; an existing
  # policy (same display name) is replaced by the rendered one, so a re-run applies changed thresholds.
  # The log-based metrics above may be minutes old: until Cloud Monitoring knows them, a policy on
  # them is refused, and that refusal is retried (run_on_new_metrics, about 15 minutes at most).
  local template file display policy
  for template in "$REPO_ROOT"/deploy/monitoring/policies/*.yaml; do
    file=$(render "$template" "PROJECT_ID=$PROJECT_ID" "NOTIFICATION_CHANNEL=$channel" \
      "DEAD_LETTER_SUBSCRIPTION=$DEAD_LETTER_SUBSCRIPTION" "SERVICE_UP_CHECK=$up" \
      "SERVICE_READY_CHECK=$ready" "DATA_FRESH_CHECK=$fresh")
    display=$(sed -n 's/^displayName: "\(.*\)"$/\1/p' "$template")
    policy=$(existing alpha monitoring policies list --filter="displayName=\"$display\"" --format='value(name)')
    if [[ -n $policy ]]; then
      run_on_new_metrics alpha monitoring policies update "$policy" --policy-from-file="$file"
    else
      run_on_new_metrics alpha monitoring policies create --policy-from-file="$file"
    fi
  done
}

for name in "${PHASES[@]}"; do
  "phase_$name"
done
if [[ $DRY_RUN -eq 1 ]]; then
  printf '\n# dry run: nothing was changed\n' >&3
elif [[ ${#DRIFT[@]} -gt 0 ]]; then
  printf 'bootstrap.sh: %d settings differ from what this script sets and change only with a restart;\n' \
    "${#DRIFT[@]}" >&2
  printf 'run each command when a restart suits (the rest of the project is in step):\n' >&2
  printf '  %s\n' "${DRIFT[@]}" >&2
fi
