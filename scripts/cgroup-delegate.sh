#!/usr/bin/env bash
# As root: give USER a delegated cgroup for nk's limits (what systemd's Delegate=yes or a
# JupyterHub spawner gives on a normal host), and print the environment nk reads:
#   NK_CGROUP=<cgroup v2 folder>  [NK_CGROUP_MEMORY=<v1 memory folder> on a hybrid host]
# Processes to run as USER must then be moved into "$NK_CGROUP/runner" (and the v1 runner):
#   echo $$ > "$NK_CGROUP/runner/cgroup.procs"
# Usage: cgroup-delegate.sh USER NAME
set -euo pipefail
user=$1 name=$2
cg=/sys/fs/cgroup
if [ "$(stat -fc %T $cg)" = cgroup2fs ]; then v2=$cg; else v2=$cg/unified; fi
[ -d "$v2" ] || { echo "no cgroup v2 here" >&2; exit 1; }
# A hybrid host: controllers that only an unused v1 hierarchy holds are handed to v2.
if [ "$v2" != "$cg" ]; then
  for c in pids cpu cpuacct cpuset; do
    if mountpoint -q "$cg/$c" && [ -z "$(find "$cg/$c" -mindepth 1 -type d -print -quit)" ]; then
      umount "$cg/$c" 2>/dev/null || true
    fi
  done
  sleep 0.2
fi
enable=""
for c in memory pids cpu; do grep -qw $c "$v2/cgroup.controllers" && enable="$enable +$c"; done
[ -n "$enable" ] && echo $enable > "$v2/cgroup.subtree_control" || true
dele() {  # $1: a cgroup folder to give to $user, with a runner leaf
  mkdir -p "$1/runner"
  chown "$user:" "$1" "$1/runner"
  for f in cgroup.procs cgroup.subtree_control cgroup.threads tasks; do
    [ -e "$1/$f" ] && chown "$user:" "$1/$f"
    [ -e "$1/runner/$f" ] && chown "$user:" "$1/runner/$f"
  done
  return 0
}
dele "$v2/$name"
echo "NK_CGROUP=$v2/$name"
if ! grep -qw memory "$v2/cgroup.controllers" && mountpoint -q "$cg/memory"; then
  dele "$cg/memory/$name"
  echo "NK_CGROUP_MEMORY=$cg/memory/$name"
fi
