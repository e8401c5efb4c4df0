#!/usr/bin/env bash
# A local Airflow for this repo (`make airflow`): API server + UI, scheduler and DAG processor, on 127.0.0.1.
#
#   orchestration/run_airflow.sh          start in the foreground; Ctrl-C stops every process it started
#   orchestration/run_airflow.sh stop     stop a running instance from another terminal (`make airflow-stop`)
#   orchestration/run_airflow.sh cli ...  the airflow CLI against this instance, e.g. `cli dags trigger tweetlake_refresh`
#
# State lives in ./.airflow (TWEETLAKE_AIRFLOW_HOME): SQLite metadata DB, logs, airflow.cfg, the generated
# UI password. Delete the folder to start over. The lake is TWEETLAKE_LAKE (default ./lake).
# Not `airflow standalone`: that binds log servers on every interface and starts a triggerer we do not need.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TWEETLAKE_BIN:-$REPO/.venv/bin}"
export AIRFLOW_HOME="${TWEETLAKE_AIRFLOW_HOME:-$REPO/.airflow}"
PORT="${TWEETLAKE_AIRFLOW_PORT:-8080}"
PGID_FILE="$AIRFLOW_HOME/run_airflow.pgid"
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"

# -- what defines "the Airflow of this repo" (always set) ----------------------------------------------------
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"

# -- sane local defaults (override any of them in your environment) ------------------------------------------
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
export AIRFLOW__API__WORKERS="${AIRFLOW__API__WORKERS:-1}"
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="${AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK:-False}"
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
# The scheduler's log server binds every interface (no host setting in Airflow 3): it is skipped below,
# the API server reads task logs from the local log folder instead. Its port is moved off the default anyway.
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}"
# Login: SimpleAuthManager, user admin; Airflow generates the password into $PASSWORDS on first start.
# TWEETLAKE_AIRFLOW_NO_AUTH=1 makes everyone admin (only on a machine nobody else can reach).
export AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
if [[ "${TWEETLAKE_AIRFLOW_NO_AUTH:-0}" == "1" ]]; then
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
fi

# -- tweetlake ---------------------------------------------------------------------------------------------------
export TWEETLAKE_LAKE="${TWEETLAKE_LAKE:-$REPO/lake}"
export TWEETLAKE_WORK_DIR="${TWEETLAKE_WORK_DIR:-$REPO/.tweetlake}"
# This local Airflow is the demo's: generated tweets into ./lake, as `make demo`, unless you choose the API
# (TWEETLAKE_SOURCE=api). A deployment sets it itself: the DAG has no default source (issue 17).
export TWEETLAKE_SOURCE="${TWEETLAKE_SOURCE:-sample}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false GX_ANALYTICS_ENABLED=false
export PATH="$BIN:$PATH"

group_alive() {  # group_alive PGID: does the group still have a live (not zombie) process?
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop_group() {  # stop_group PGID: TERM the process group, KILL what is left after 30 s
  local pgid="$1"
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    group_alive "$pgid" || return 0
    sleep 0.5
  done
  echo "run_airflow: processes still alive after 30 s, killing group $pgid" >&2
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

case "${1:-start}" in
  stop)
    if [[ ! -s "$PGID_FILE" ]]; then
      echo "run_airflow: nothing to stop (no $PGID_FILE)"
      exit 0
    fi
    stop_group "$(cat "$PGID_FILE")"
    rm -f "$PGID_FILE"
    echo "run_airflow: stopped"
    exit 0
    ;;
  cli)
    shift
    exec airflow "$@"
    ;;
  _group)  # internal: the process group (and session) leader, started by `start` through setsid
    echo "$$" >"$PGID_FILE"
    airflow api-server --host 127.0.0.1 --port "$PORT" --workers "$AIRFLOW__API__WORKERS" \
      > >(tee -a "$AIRFLOW_HOME/logs/api-server.log" | sed -u 's/^/[api-server]    /') 2>&1 &
    airflow scheduler --skip-serve-logs \
      > >(tee -a "$AIRFLOW_HOME/logs/scheduler.log" | sed -u 's/^/[scheduler]     /') 2>&1 &
    airflow dag-processor \
      > >(tee -a "$AIRFLOW_HOME/logs/dag-processor.log" | sed -u 's/^/[dag-processor] /') 2>&1 &
    wait
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 [start|stop|cli ...]" >&2
    exit 2
    ;;
esac

if [[ -s "$PGID_FILE" ]] && group_alive "$(cat "$PGID_FILE")"; then
  echo "run_airflow: already running (process group $(cat "$PGID_FILE")); orchestration/run_airflow.sh stop" >&2
  exit 1
fi
mkdir -p "$AIRFLOW_HOME/logs" "$TWEETLAKE_WORK_DIR"
echo "run_airflow: AIRFLOW_HOME=$AIRFLOW_HOME, lake $TWEETLAKE_LAKE"
airflow db migrate >"$AIRFLOW_HOME/logs/migrate.log" 2>&1 || {
  tail -n 30 "$AIRFLOW_HOME/logs/migrate.log" >&2
  exit 1
}
# One writer per lake: the DAG's build/validate/publish tasks share this 1-slot pool.
airflow pools set tweetlake_lake 1 "tweetlake: one writer per lake (DuckDB)" >/dev/null

# All three in one new process group (and session, so a Ctrl-C in this terminal reaches only this script,
# which then stops the group with TERM); their output goes to .airflow/logs and to this terminal.
rm -f "$PGID_FILE"
setsid "$0" _group &
for _ in $(seq 1 50); do
  [[ -s "$PGID_FILE" ]] && break
  sleep 0.1
done
GROUP="$(cat "$PGID_FILE")"

cleanup() {
  trap - INT TERM EXIT
  echo "run_airflow: stopping (process group $GROUP)"
  stop_group "$GROUP"
  rm -f "$PGID_FILE"
  echo "run_airflow: stopped"
}
trap cleanup INT TERM EXIT

for _ in $(seq 1 120); do
  if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$PORT/api/v2/monitor/health" 2>/dev/null; then
    cat <<EOF

run_airflow: Airflow is up at http://127.0.0.1:$PORT
  login: admin, password in $PASSWORDS
  DAGs start paused: unpause tweetlake_refresh in the UI, or trigger a run now:
    orchestration/run_airflow.sh cli dags unpause tweetlake_refresh
    orchestration/run_airflow.sh cli dags trigger tweetlake_refresh
  stop: Ctrl-C here, or \`make airflow-stop\` (orchestration/run_airflow.sh stop)

EOF
    break
  fi
  if ! group_alive "$GROUP"; then
    echo "run_airflow: Airflow exited during startup; see $AIRFLOW_HOME/logs" >&2
    exit 1
  fi
  sleep 1
done

while group_alive "$GROUP"; do
  sleep 2
done
