#!/usr/bin/env bash
# Start a one-machine Ceph cluster with an S3 gateway (RGW) on loopback, for the S3 tests
# (tests/s3servers.py) and benchmarks/s3_bench.py. Debian's packages: ceph-mon ceph-osd radosgw.
#
#   .ci/ceph-rgw-up.sh DIR RGW_PORT MON_PORT     -> prints RGW_UP when the gateway answers
#   .ci/ceph-rgw-down.sh DIR                     -> stops it (kills the pids in DIR/run)
#
# A monitor, one OSD on memstore (RAM, 1 GiB cap), pool size 1, no authentication between the
# daemons ("auth ... required = none" needs "ms ... mode = crc", else radosgw loops on
# get_initial_auth_request -13), and radosgw's beast frontend on 127.0.0.1:RGW_PORT. S3 user:
# access key "testkey", secret "testsecret123". Starts in ~11 s, ~120 MB of memory.
set -euo pipefail
D=${1:?usage: ceph-rgw-up.sh DIR RGW_PORT MON_PORT}
PORT=${2:?RGW port}
MON_PORT=${3:?monitor port}
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install ceph-mon ceph-osd radosgw)" >&2; exit 3; }
done
rm -rf "$D"; mkdir -p "$D/mon" "$D/osd0" "$D/run" "$D/rgw"
FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd objectstore = memstore
memstore device bytes = 1073741824
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
mon data = $D/mon
osd data = $D/osd0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $D/rgw
CONF
export CEPH_CONF=$D/ceph.conf
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap"
ceph-mon -i a
OSDUUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
ID=$(timeout 60 ceph osd new "$OSDUUID")
ceph-osd -i "$ID" --mkfs --osd-uuid "$OSDUUID" 2>/dev/null
ceph-osd -i "$ID"
radosgw -n client.rgw.a
timeout 60 radosgw-admin user create --uid test --display-name test \
  --access-key testkey --secret testsecret123 >/dev/null
for _ in $(seq 300); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$PORT/" 2>/dev/null && { echo RGW_UP; exit 0; }
  sleep 0.2
done
echo "radosgw did not answer on 127.0.0.1:$PORT (see $D/client.rgw.a.log)" >&2
exit 1
