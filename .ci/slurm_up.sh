#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the sweep tests (tests/test_executors.py).
#
#   .ci/slurm_up.sh         install (Debian packages) and start munge, slurmctld and slurmd; no-op if running
#   .ci/slurm_up.sh stop    stop the daemons this script started, by their pid files
#
# Needs root to install or start anything; as another user it only reports and exits 0 (the tests then skip,
# or fail under CI=true, with their own reason). Daemons are stopped by pid file, never by name.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by cogsim .ci/slurm_up.sh"
PIDS=(/run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid)

log() { echo "slurm_up: $*"; }

alive() {  # alive PIDFILE: the process named in PIDFILE exists
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

cluster_up() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(timeout 10 sinfo -h -o '%t' 2>/dev/null | head -n1) || return 1
  case "$state" in idle*|mix*|alloc*|comp*) return 0 ;; *) return 1 ;; esac
}

if [ "${1:-}" = "stop" ]; then
  for f in "${PIDS[@]}"; do
    if alive "$f"; then pid=$(cat "$f"); kill "$pid" && log "stopped pid $pid ($f)"; fi
  done
  exit 0
fi

if cluster_up; then
  log "a Slurm cluster is already running: $(sinfo -h -o '%P %t %D' | tr '\n' ' ')"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  log "not root: cannot install or start Slurm here (run this script as root)"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
   || ! command -v munged >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1; then
  log "installing slurmctld slurmd slurm-client munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

H=$(hostname -s)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge \
  /etc/munge /var/log/munge
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key

if [ ! -f "$CONF" ] || grep -qF "$MARK" "$CONF"; then
  MEM=$(awk '/MemTotal/ {m = int($2 / 1024 * 0.8); print (m > 64000 ? 64000 : m)}' /proc/meminfo)
  cat > "$CONF" <<CONF
$MARK
ClusterName=cogsimtest
SlurmctldHost=$H
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmUser=root
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName=$H CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
else
  log "keeping the existing $CONF (not written by this script)"
fi

alive /run/munge/munged.pid || su -s /bin/sh munge -c /usr/sbin/munged
alive /run/slurmctld.pid || /usr/sbin/slurmctld
alive /run/slurmd.pid || /usr/sbin/slurmd

for _ in $(seq 1 60); do
  if cluster_up; then
    log "cluster up: $(sinfo -h -o '%P %t %D' | tr '\n' ' ')"
    exit 0
  fi
  state=$(sinfo -h -o '%t' 2>/dev/null | head -n1 || true)
  case "$state" in down*|drain*|drng*) scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true ;; esac
  sleep 0.5
done
log "the cluster did not come up; see /var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log"
sinfo || true
exit 1
