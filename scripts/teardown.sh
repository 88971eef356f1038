#!/usr/bin/env bash
# Delete what scripts/bootstrap.sh and the build created, in the reverse order of creation.
#
# Each resource is deleted only when a describe (or a list by display name) finds it, so the script
# can be re-run after a partial teardown. A delete that fails does not stop the others: the failures
# are listed at the end (exit status 1) and a later run retries them. Cloud SQL's private services
# peering, for one, may be refused for a while after the instance is gone. With --dry-run nothing is
# run: every command is printed instead, the deletes as "# if found:" lines after their checks.
# Without --dry-run the script asks for the project id to be typed, unless --yes is given.
#
# Usage: scripts/teardown.sh [--dry-run] [--yes] [PHASE...]
#   Phases, in this order: alerting build schedule mlflow sql identities pubsub storage network
#   (default: all of them; the APIs stay enabled). Both schedulers' resources are removed if found.
# Names come from the environment, as for scripts/bootstrap.sh (scripts/deploy-lib.sh).
# Buckets are deleted with every object version; Cloud Storage's soft delete keeps them restorable
# (and billed) for 7 days. Deleting the project instead removes everything at once.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
ALL_PHASES=(alerting build schedule mlflow sql identities pubsub storage network)

usage_error() {
  echo "teardown.sh: $1 (try --help)" >&2
  exit 2
}

DRY_RUN=0
CONFIRMED=0
PHASES=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --yes) CONFIRMED=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    all) PHASES+=("${ALL_PHASES[@]}") ;;
    alerting | build | schedule | mlflow | sql | identities | pubsub | storage | network) PHASES+=("$1") ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done
[[ ${#PHASES[@]} -gt 0 ]] || PHASES=("${ALL_PHASES[@]}")

# shellcheck source=scripts/deploy-lib.sh
source "$SCRIPT_DIR/deploy-lib.sh"

if [[ $DRY_RUN -eq 0 && $CONFIRMED -eq 0 ]]; then
  printf 'This deletes gasforecast'\''s resources (%s) in project %s, data buckets included.\n' \
    "${PHASES[*]}" "$PROJECT_ID" >&2
  printf 'Type the project id to go on: ' >&2
  read -r answer || answer=""
  [[ $answer == "$PROJECT_ID" ]] || usage_error "not confirmed: nothing was deleted"
fi

# ---- How deletes run ----------------------------------------------------------------------------
FAILED=()

# delete ARGS...: a gcloud delete; a failure is recorded, and the teardown goes on.
delete() {
  print_command "+" "$@"
  gcloud "--project=$PROJECT_ID" --quiet "$@" || FAILED+=("gcloud $*")
}

# remove CHECK... -- DELETE...: run DELETE when the describe CHECK finds the resource.
remove() { on_present delete "$@"; }

# remove_found PLACEHOLDER LIST... -- DELETE...: run DELETE, with {} replaced by the name, for each
# resource LIST answers (Monitoring resources have generated ids: LIST finds them by display name).
remove_found() {
  local placeholder=$1 list=() name
  shift
  while [[ $1 != -- ]]; do
    list+=("$1")
    shift
  done
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# lookup:" "${list[@]}"
    print_command "# if found:" "${@//\{\}/$placeholder}"
    return 0
  fi
  while read -r name; do
    [[ -z $name ]] || delete "${@//\{\}/$name}"
  done < <(gcloud "--project=$PROJECT_ID" --quiet "${list[@]}" 2>/dev/null || true)
}

# revoke_project FILTER: remove the project-level bindings whose role and member match FILTER
# (e.g. 'bindings.members="serviceAccount:x@p.iam.gserviceaccount.com"'), whatever their condition.
revoke_project() {
  local list=(projects get-iam-policy "$PROJECT_ID" --flatten=bindings[].members --filter="$1"
    --format='csv[no-heading](bindings.role,bindings.members)')
  local role member
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# lookup:" "${list[@]}"
    print_command "# if found:" projects remove-iam-policy-binding "$PROJECT_ID" --member=MEMBER --role=ROLE --all \
      --format=none
    return 0
  fi
  while IFS=, read -r role member; do
    [[ -z $role ]] || delete projects remove-iam-policy-binding "$PROJECT_ID" --member="$member" --role="$role" --all \
      --format=none
  done < <(gcloud "--project=$PROJECT_ID" --quiet "${list[@]}" 2>/dev/null || true)
}

# remove_bucket BUCKET: delete the bucket with every object and object version in it.
remove_bucket() {
  remove storage buckets describe "gs://$1" --format='value(name)' -- storage rm --recursive --all-versions "gs://$1"
}

# ---- Phases, in the reverse order of bootstrap.sh's ---------------------------------------------
teardown_alerting() {
  phase "Alerting: alert policies, notification channel, uptime checks, log-based metrics"
  local templates=("$REPO_ROOT"/deploy/monitoring/policies/*.yaml) metrics=("$REPO_ROOT"/deploy/monitoring/metrics/*.yaml)
  local i display
  for ((i = ${#templates[@]} - 1; i >= 0; i--)); do
    display=$(sed -n 's/^displayName: "\(.*\)"$/\1/p' "${templates[i]}")
    remove_found POLICY_ID alpha monitoring policies list --filter="displayName=\"$display\"" --format='value(name)' -- \
      alpha monitoring policies delete {}
  done
  remove_found CHANNEL_ID beta monitoring channels list --filter="displayName=\"$ALERT_CHANNEL_NAME\"" \
    --format='value(name)' -- beta monitoring channels delete {} --force
  for ((i = ${#UPTIME_CHECKS[@]} - 1; i >= 0; i--)); do
    remove_found CHECK_ID monitoring uptime list-configs --filter="displayName=\"${UPTIME_CHECKS[i]}\"" \
      --format='value(name)' -- monitoring uptime delete {}
  done
  for ((i = ${#metrics[@]} - 1; i >= 0; i--)); do
    display=$(basename "${metrics[i]}" .yaml)
    remove logging metrics describe "$display" --format='value(name)' -- logging metrics delete "$display"
  done
}

teardown_build() {
  phase "What the build deployed: the service, both functions (with their Eventarc triggers and subscriptions), build leftovers"
  remove run services describe "$SERVICE_NAME" --region="$REGION" --format='value(metadata.name)' -- \
    run services delete "$SERVICE_NAME" --region="$REGION"
  local function
  for function in "$TRAIN_FUNCTION" "$INGEST_FUNCTION"; do
    remove functions describe "$function" --gen2 --region="$REGION" --format='value(name)' -- \
      functions delete "$function" --gen2 --region="$REGION"
  done
  # Deploys before the functions' images went to the pipeline's repository left them in gcf-artifacts.
  remove artifacts repositories describe gcf-artifacts --location="$REGION" --format='value(name)' -- \
    artifacts repositories delete gcf-artifacts --location="$REGION"
}

teardown_schedule() {
  phase "Schedule: the Cloud Scheduler job, or the Composer environment and the bucket Composer leaves"
  remove scheduler jobs describe "$SCHEDULER_JOB" --location="$REGION" --format='value(name)' -- \
    scheduler jobs delete "$SCHEDULER_JOB" --location="$REGION"
  local describe=(composer environments describe "$COMPOSER_ENV" --location="$REGION")
  if [[ $DRY_RUN -eq 0 ]] && ! present "${describe[@]}" --format='value(name)'; then
    return 0
  fi
  local dags_prefix bucket
  dags_prefix=$(lookup gs://COMPOSER_BUCKET/dags "${describe[@]}" --format='value(config.dagGcsPrefix)')
  bucket=${dags_prefix#gs://}
  bucket=${bucket%%/*}
  remove "${describe[@]}" --format='value(name)' -- composer environments delete "$COMPOSER_ENV" --location="$REGION"
  remove_bucket "$bucket"
}

teardown_mlflow() {
  phase "MLflow VM"
  remove compute instances describe "$MLFLOW_VM" --zone="$ZONE" --format='value(name)' -- \
    compute instances delete "$MLFLOW_VM" --zone="$ZONE"
}

teardown_sql() {
  phase "Cloud SQL (its database and user go with it) and the password secret"
  remove secrets describe "$DB_PASSWORD_SECRET" --format='value(name)' -- secrets delete "$DB_PASSWORD_SECRET"
  remove sql instances describe "$SQL_INSTANCE" --format='value(name)' -- sql instances delete "$SQL_INSTANCE"
}

teardown_identities() {
  phase "Identities: the build's custom role, each service account's project roles, the accounts"
  local found
  found=$(existing iam roles describe "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --format='value(name,deleted)')
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# if found:" iam roles delete "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --format=none
  elif [[ -n $found && $found != *True* ]]; then
    delete iam roles delete "$TRIGGER_SETTINGS_ROLE" --project="$PROJECT_ID" --format=none
  fi
  # The Cloud Storage service agent's publisher role was granted for the storage trigger.
  revoke_project "bindings.role=roles/pubsub.publisher AND bindings.members=\"serviceAccount:$(lookup GCS_SERVICE_AGENT storage service-agent)\""
  local account
  for account in "$COMPOSER_SA" "$BUILD_SA" "$MLFLOW_SA" "$SERVICE_SA" "$TRAIN_SA" "$INGEST_SA"; do
    revoke_project "bindings.members=\"serviceAccount:$(sa_email "$account")\""
    remove iam service-accounts describe "$(sa_email "$account")" --format='value(email)' -- \
      iam service-accounts delete "$(sa_email "$account")"
  done
}

teardown_pubsub() {
  phase "Pub/Sub: the dead-letter subscription, both topics, the Pub/Sub service agent's subscriber role"
  revoke_project "bindings.role=roles/pubsub.subscriber AND bindings.members=\"serviceAccount:$(pubsub_agent)\""
  remove pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" --format='value(name)' -- \
    pubsub subscriptions delete "$DEAD_LETTER_SUBSCRIPTION"
  local topic
  for topic in "$DEAD_LETTER_TOPIC" "$RETRAIN_TOPIC"; do
    remove pubsub topics describe "$topic" --format='value(name)' -- pubsub topics delete "$topic"
  done
}

teardown_storage() {
  phase "Storage: the image repository and the four buckets, with every object version"
  remove_bucket "$BUILD_SOURCES_BUCKET"
  remove artifacts repositories describe "$REPOSITORY" --location="$REGION" --format='value(name)' -- \
    artifacts repositories delete "$REPOSITORY" --location="$REGION"
  local bucket
  for bucket in "$ARTIFACT_BUCKET" "$DATA_BUCKET" "$UPLOADS_BUCKET"; do
    remove_bucket "$bucket"
  done
}

teardown_network() {
  phase "Network: firewall rules, addresses, connector, peering, NAT, router, subnet, VPC"
  local rule
  for rule in "$NETWORK-allow-iap" "$NETWORK-allow-mlflow-from-connector"; do
    remove compute firewall-rules describe "$rule" --format='value(name)' -- compute firewall-rules delete "$rule"
  done
  remove compute addresses describe "$MLFLOW_VM-ip" --region="$REGION" --format='value(name)' -- \
    compute addresses delete "$MLFLOW_VM-ip" --region="$REGION"
  remove compute networks vpc-access connectors describe "$VPC_CONNECTOR" --region="$REGION" --format='value(name)' -- \
    compute networks vpc-access connectors delete "$VPC_CONNECTOR" --region="$REGION"
  remove services vpc-peerings list --network="$NETWORK" --service=servicenetworking.googleapis.com \
    --format='value(peering)' -- \
    services vpc-peerings delete --service=servicenetworking.googleapis.com --network="$NETWORK"
  remove compute addresses describe "$PRIVATE_SERVICES_RANGE" --global --format='value(name)' -- \
    compute addresses delete "$PRIVATE_SERVICES_RANGE" --global
  remove compute routers nats describe "$NAT" --router="$ROUTER" --region="$REGION" --format='value(name)' -- \
    compute routers nats delete "$NAT" --router="$ROUTER" --region="$REGION"
  remove compute routers describe "$ROUTER" --region="$REGION" --format='value(name)' -- \
    compute routers delete "$ROUTER" --region="$REGION"
  remove compute networks subnets describe "$SUBNET" --region="$REGION" --format='value(name)' -- \
    compute networks subnets delete "$SUBNET" --region="$REGION"
  remove compute networks describe "$NETWORK" --format='value(name)' -- compute networks delete "$NETWORK"
}

for name in "${ALL_PHASES[@]}"; do
  [[ " ${PHASES[*]} " != *" $name "* ]] || "teardown_$name"
done
if [[ $DRY_RUN -eq 1 ]]; then
  printf '\n# dry run: nothing was changed\n' >&3
elif [[ ${#FAILED[@]} -gt 0 ]]; then
  printf 'teardown.sh: %d deletes failed; run the same command again later (a peering, for one, can be\n' \
    "${#FAILED[@]}" >&2
  printf 'refused for days after Cloud SQL is deleted):\n' >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
