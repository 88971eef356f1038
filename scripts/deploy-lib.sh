# shellcheck shell=bash
# Sourced by scripts/bootstrap.sh and scripts/teardown.sh: the names of every resource (each can be
# overridden in the environment; defaults match gasforecast/platform/config.py and cloudbuild.yaml) and how
# gcloud commands are run, printed (--dry-run) and retried. The caller sets DRY_RUN (0 or 1),
# SCRIPT_DIR and REPO_ROOT first.

# ---- Names (override any of them in the environment) -------------------------------------------
if [[ $DRY_RUN -eq 1 ]]; then
  PROJECT_ID=${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-your-project-id}}
else
  PROJECT_ID=${PROJECT_ID:-${GOOGLE_CLOUD_PROJECT:-$(gcloud config get-value project 2>/dev/null)}}
fi
if [[ -z $PROJECT_ID ]]; then
  echo "${0##*/}: set PROJECT_ID (or run: gcloud config set project PROJECT_ID)" >&2
  exit 2
fi
REGION=${REGION:-europe-west2}
ZONE=${ZONE:-${REGION}-a}
UPLOADS_BUCKET=${UPLOADS_BUCKET:-gasforecast-uploads}
DATA_BUCKET=${DATA_BUCKET:-gasforecast-data}
ARTIFACT_BUCKET=${ARTIFACT_BUCKET:-gasforecast-artifacts}
RETRAIN_TOPIC=${RETRAIN_TOPIC:-retrain-requests}
DEAD_LETTER_TOPIC=${DEAD_LETTER_TOPIC:-${RETRAIN_TOPIC}-dead-letter}
DEAD_LETTER_SUBSCRIPTION=${DEAD_LETTER_SUBSCRIPTION:-${DEAD_LETTER_TOPIC}-sub}
MAX_DELIVERY_ATTEMPTS=${MAX_DELIVERY_ATTEMPTS:-5}
REPOSITORY=${REPOSITORY:-gasforecast}
INGEST_FUNCTION=${INGEST_FUNCTION:-gasforecast-ingest}
TRAIN_FUNCTION=${TRAIN_FUNCTION:-gasforecast-train}
SERVICE_NAME=${SERVICE_NAME:-gasforecast-service}
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
SCHEDULER_JOB=${SCHEDULER_JOB:-gasforecast-retrain-schedule}
INGEST_SA=${INGEST_SA:-gasforecast-ingest}
TRAIN_SA=${TRAIN_SA:-gasforecast-train}
SERVICE_SA=${SERVICE_SA:-gasforecast-service}
MLFLOW_SA=${MLFLOW_SA:-gasforecast-mlflow}
BUILD_SA=${BUILD_SA:-gasforecast-build}
COMPOSER_SA=${COMPOSER_SA:-gasforecast-composer}
TRIGGER_SETTINGS_ROLE=${TRIGGER_SETTINGS_ROLE:-gasforecastTriggerSettings}
ALERT_EMAIL=${ALERT_EMAIL:-}
# Monitoring resources Google names by id are found by these display names.
ALERT_CHANNEL_NAME=${ALERT_CHANNEL_NAME:-gasforecast alerts}
# shellcheck disable=SC2034  # (used by bootstrap.sh and teardown.sh)
UPTIME_CHECKS=("$SERVICE_NAME-up" "$SERVICE_NAME-ready" "$SERVICE_NAME-data-fresh")
# The build phase: where Cloud Build runs (not where it deploys: that is REGION), the region to fall
# back to when Cloud Build refuses BUILD_REGION (default: the nearest of the regions Google documents
# for restricted projects), and further substitutions (e.g. "_TARGET_COLUMN=x,_TARGET_UNIT=y").
BUILD_REGION=${BUILD_REGION:-$REGION}
BUILD_FALLBACK_REGION=${BUILD_FALLBACK_REGION:-}
BUILD_SUBSTITUTIONS=${BUILD_SUBSTITUTIONS:-}
# Where `gcloud builds submit` uploads the sources of each build (the bootstrap makes it, with a
# lifecycle rule; the build account may read it and no other bucket of the pipeline).
BUILD_SOURCES_BUCKET=${BUILD_SOURCES_BUCKET:-${PROJECT_ID}_cloudbuild}
MONITORING_DIR=${MONITORING_DIR:-$REPO_ROOT/build/monitoring}
# A grant to an account created moments ago may fail until IAM has propagated it (a minute or more):
# each grant gets GRANT_ATTEMPTS tries, GRANT_RETRY_SECONDS apart at first, doubling up to a minute.
GRANT_ATTEMPTS=${GRANT_ATTEMPTS:-6}
GRANT_RETRY_SECONDS=${GRANT_RETRY_SECONDS:-5}
# A new log-based metric can take up to about 10 minutes before Cloud Monitoring accepts an alert
# policy on it (a 404 "Cannot find metric(s)"): each policy gets METRIC_ATTEMPTS tries,
# METRIC_RETRY_SECONDS apart at first, doubling up to a minute (15 + 30 + 14 × 60 s ≈ 15 minutes).
METRIC_ATTEMPTS=${METRIC_ATTEMPTS:-17}
METRIC_RETRY_SECONDS=${METRIC_RETRY_SECONDS:-15}

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

# run_with_password PASSWORD ARGS...: like run, handing gcloud --password in a flags file on its
# standard input, so the password is never printed and never on a command line (visible in `ps`).
run_with_password() {
  local password=$1
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "$@" --flags-file=-
  else
    print_command "+" "$@" --flags-file=-
    printf -- '--password: "%s"\n' "$password" | gcloud "--project=$PROJECT_ID" --quiet "$@" --flags-file=-
  fi
}

# run_retrying PATTERN ATTEMPTS FIRST_DELAY WAITING_FOR ARGS...: a gcloud command that changes
# something and that Google Cloud refuses for a while after what it names was created. A refusal
# whose message matches PATTERN (an extended regular expression) is retried with exponential backoff,
# FIRST_DELAY seconds at first, doubling up to a minute, ATTEMPTS times at most; WAITING_FOR says what
# it waits for. Any other failure stops the script at once.
run_retrying() {
  local pattern=$1 attempts=$2 delay=$3 waiting_for=$4
  shift 4
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "$@"
    return 0
  fi
  print_command "+" "$@"
  local attempt=1 error
  while ! error=$(gcloud "--project=$PROJECT_ID" --quiet "$@" 2>&1 >/dev/null); do
    if ! grep -qiE "$pattern" <<<"$error"; then
      printf '%s\n' "$error" >&2
      return 1
    fi
    if ((attempt >= attempts)); then
      printf '%s\nbootstrap.sh: still refused after %d attempts; %s may need longer.\n' "$error" "$attempt" \
        "$waiting_for" >&2
      echo "bootstrap.sh: wait a few minutes and run the same command again (it skips what exists)" >&2
      return 1
    fi
    printf '# not usable yet: %s (attempt %d of %d), retrying in %d s: %s\n' \
      "$waiting_for" "$attempt" "$attempts" "$delay" "$(tail -n 1 <<<"$error")" >&3
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

# run_grant ARGS...: an add-iam-policy-binding. A member created moments ago (a service account,
# a service agent) may be refused until IAM has propagated it.
run_grant() {
  run_retrying 'does not exist|not found|invalid argument|concurrent policy changes|aborted' \
    "$GRANT_ATTEMPTS" "$GRANT_RETRY_SECONDS" "IAM, for a new account" "$@"
}

# run_on_new_metrics ARGS...: an alert policy create or update. Cloud Monitoring refuses a policy on
# a log-based metric created minutes ago with a 404 until the metric is usable (up to about 10
# minutes, Google says), so that refusal is retried for about 15 minutes.
run_on_new_metrics() {
  run_retrying 'Cannot find metric\(s\)|metric referenced by the provided filter is unknown' \
    "$METRIC_ATTEMPTS" "$METRIC_RETRY_SECONDS" "Cloud Monitoring, for a new log-based metric" "$@"
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

# existing ARGS...: print the first line a list command answers: the name of a resource found by
# its display name, or nothing. In a dry run nothing is found, so the plan shows each create.
existing() {
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" "$@"
    return 0
  fi
  { gcloud "--project=$PROJECT_ID" --quiet "$@" 2>/dev/null || true; } | head -n 1
}

# create_reading PLACEHOLDER ARGS...: run a create command and print what it answers (its --format),
# e.g. the generated name of the new resource; the placeholder in a dry run.
create_reading() {
  local placeholder=$1
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "" "$@"
    printf '%s\n' "$placeholder"
  else
    print_command "+" "$@"
    gcloud "--project=$PROJECT_ID" --quiet "$@"
  fi
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

# on_present RUNNER CHECK... -- ACTION...: RUNNER (run, delete…) the gcloud ACTION when the describe
# CHECK finds something; a dry run prints both, the action as "# if found:".
on_present() {
  local runner=$1 check=()
  shift
  while [[ $1 != -- ]]; do
    check+=("$1")
    shift
  done
  shift
  if [[ $DRY_RUN -eq 1 ]]; then
    print_command "# check:" "${check[@]}"
    print_command "# if found:" "$@"
  elif present "${check[@]}"; then
    "$runner" "$@"
  fi
}

# when_present CHECK... -- ACTION...: run the gcloud ACTION when the describe CHECK finds something
# (a resource Google creates on first use).
when_present() { on_present run "$@"; }
