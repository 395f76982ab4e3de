#!/bin/bash
# A single-node Ceph radosgw for the tests (mon + memstore OSD + rgw, auth none), from
# Debian's packages fetched with apt-get download and unpacked (not installed: nothing
# on the host changes) into $ZB_CEPH_ROOT, once. Usage: ceph-rgw.sh start DIR MONPORT RGWPORT
# (prints the rgw URL; access key TESTAK, secret TESTSECRET) | ceph-rgw.sh stop DIR.
set -euo pipefail
R=${ZB_CEPH_ROOT:-/var/cache/zfsbackup-ceph/root}
cmd=$1 C=$2
if [ "$cmd" = stop ]; then
  for p in rgw osd mon; do [ -f $C/$p.pid ] && kill "$(cat $C/$p.pid)" 2>/dev/null || true; done
  exit 0
fi
MONPORT=$3 RGWPORT=$4
PKGS="ceph-mon ceph-osd ceph-base ceph-common radosgw librados2 librgw2 libradosstriper1 librbd1 libcephfs2
  python3-rados python3-rbd python3-cephfs python3-ceph-argparse python3-ceph-common libsqlite3-mod-ceph liboath0
  libleveldb1d libsnappy1v5 liblttng-ust1 libbabeltrace1 libgoogle-perftools4 libtcmalloc-minimal4 libfuse2
  libibverbs1 librdmacm1 liblua5.3-0 libthrift-0.17.0 libdaxctl1 libndctl6 libpmem1 libpmemobj1 libunwind8
  libboost-iostreams1.74.0 libboost-thread1.74.0 libboost-program-options1.74.0 libboost-context1.74.0
  libboost-coroutine1.74.0 libboost-filesystem1.74.0 libboost-chrono1.74.0 libboost-atomic1.74.0 libnl-3-200
  libnl-route-3-200 liburing2 libfmt9 libcurl4 librabbitmq4"
if [ ! -x $R/usr/bin/radosgw ]; then
  d=$(dirname $R)/debs; mkdir -p $d $R
  (cd $d && apt-get download $PKGS >/dev/null 2>&1 || { apt-get update -qq && apt-get download $PKGS >/dev/null; })
  for f in $d/*.deb; do dpkg-deb -x $f $R; done
fi
export LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/ceph PYTHONPATH=$R/usr/lib/python3/dist-packages PATH=$R/usr/bin:$PATH CEPH_CONF=$C/ceph.conf
rm -rf $C; mkdir -p $C/{mon,osd/osd.0,run,log,rgw}; FSID=$(cat /proc/sys/kernel/random/uuid)
cat > $C/ceph.conf <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MONPORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 2147483648
plugin dir = $R/usr/lib/x86_64-linux-gnu/ceph
erasure code dir = $R/usr/lib/x86_64-linux-gnu/ceph/erasure-code
osd class dir = $R/usr/lib/x86_64-linux-gnu/rados-classes
run dir = $C/run
admin socket = $C/run/\$name.asok
log file = $C/log/\$name.log
keyring = $C/keyring
mon data = $C/mon/\$name
osd data = $C/osd/\$name
[client.rgw.a]
rgw data = $C/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGWPORT
rgw gc obj min wait = 0
CONF
ceph-authtool --create-keyring $C/keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MONPORT]" --fsid $FSID $C/monmap >/dev/null
ceph-mon -i a --mkfs --monmap $C/monmap --keyring $C/keyring
ceph-mon -i a -f >$C/log/mon.stdout 2>&1 </dev/null & echo $! > $C/mon.pid
U=$(cat /proc/sys/kernel/random/uuid)
for i in $(seq 50); do ceph osd new $U 0 >/dev/null 2>&1 && break; sleep 0.2; done
ceph-osd -i 0 --mkfs --osd-uuid $U >/dev/null 2>&1
ceph-osd -i 0 -f >$C/log/osd.stdout 2>&1 </dev/null & echo $! > $C/osd.pid
radosgw -n client.rgw.a -f >$C/log/rgw.stdout 2>&1 </dev/null & echo $! > $C/rgw.pid
for i in $(seq 300); do curl -s -o /dev/null http://127.0.0.1:$RGWPORT/ && break; sleep 0.2; done   # 60 s: slow under a loaded CI
fail() { echo "ceph-rgw.sh: $1; see $C/log" >&2; for p in rgw osd mon; do [ -f $C/$p.pid ] && kill "$(cat $C/$p.pid)" 2>/dev/null; done; exit 1; }
curl -s -o /dev/null http://127.0.0.1:$RGWPORT/ || fail "radosgw did not answer on port $RGWPORT"
timeout 60 radosgw-admin -n client.admin user create --uid test --display-name test --access-key TESTAK --secret TESTSECRET >/dev/null ||
  fail "radosgw-admin could not create the test user (is the OSD up?)"
echo "http://127.0.0.1:$RGWPORT"
