#!/usr/bin/env bash
# Stop the cluster .ci/ceph-rgw-up.sh started in DIR: kill its daemons by their pid files
# (SIGTERM, then SIGKILL after a second: the memstore OSD keeps nothing worth a clean stop).
D=${1:?usage: ceph-rgw-down.sh DIR}
for pidfile in "$D"/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
done
for pidfile in "$D"/run/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
done
exit 0
