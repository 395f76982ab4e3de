# Sourced by the ssh scenarios after common.sh; runs INSIDE the guest. An OpenSSH sshd on the
# guest's loopback, as test/lib/sshd.ts starts one on the host: its own host key, authorized
# key, config and port, and a client HOME with .ssh/config (Host zbt), known_hosts and the
# key as id_ed25519, so the ssh method's defaults are what is tested. The guest boots with
# no network: lo is brought up here. The login is a uid-0 user of this scenario (zbSNN, added
# to the guest's /etc/passwd, a tmpfs copy) whose shell is /bin/sh: root's bash would source
# the host's /root/.bashrc for every remote command (Debian's bash does under sshd), which
# under TCG costs seconds each. Handshakes are slow under TCG too: the client's config allows
# for them.
#   start_sshd    sets SSHD_PID, SSH_PORT, SSH_USER, SSH_HOME; exports HOME=$SSH_HOME
#   kill_sshd     the listener and every session it forked (SIGKILL)
start_sshd() {
  local d=$W/sshd i
  ip link set lo up
  mkdir -p /run/sshd "$d/home/.ssh"; chmod 700 "$d/home/.ssh"; chmod 755 "$d"
  if [ ! -f "$d/host_key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C zbt -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -C zbt -f "$d/home/.ssh/id_ed25519"
    cp "$d/home/.ssh/id_ed25519.pub" "$d/authorized_keys"
  fi
  SSH_PORT=${SSH_PORT:-$((2200 + 10#${S#s}))} SSH_USER=zb$S
  mkdir -p "$d/rhome"
  grep -q "^$SSH_USER:" /etc/passwd || echo "$SSH_USER:x:0:0:zfsbackup test:$d/rhome:/bin/sh" >> /etc/passwd
  printf '%s\n' "ListenAddress 127.0.0.1" "HostKey $d/host_key" "AuthorizedKeysFile $d/authorized_keys" \
    "PidFile $d/sshd.pid" "StrictModes no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
    "UsePAM no" "PermitRootLogin yes" "UseDNS no" "LogLevel ERROR" "SetEnv PATH=/usr/local/bin:/usr/bin:/bin" > "$d/sshd_config"
  printf '%s\n' "Host zbt" "  HostName 127.0.0.1" "  Port $SSH_PORT" "  User $SSH_USER" \
    "  ConnectTimeout 120" "  ServerAliveInterval 20" "  ServerAliveCountMax 6" > "$d/home/.ssh/config"
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1-2 "$d/host_key.pub")" > "$d/home/.ssh/known_hosts"
  /usr/sbin/sshd -D -e -f "$d/sshd_config" -p "$SSH_PORT" 2>>"$d/sshd.log" &
  SSHD_PID=$!
  for i in $(seq 120); do
    ssh-keyscan -T 20 -p "$SSH_PORT" 127.0.0.1 >/dev/null 2>&1 && break
    kill -0 "$SSHD_PID" 2>/dev/null || fail "sshd did not start: $(cat "$d/sshd.log")"
    sleep 0.5
  done
  SSH_HOME=$d/home; export HOME=$SSH_HOME
  trap 'kill_sshd' EXIT
}

kill_sshd() {
  [ -n "${SSHD_PID:-}" ] || return 0
  pkill -KILL -P "$SSHD_PID" 2>/dev/null || true
  kill -KILL "$SSHD_PID" 2>/dev/null || true
  wait "$SSHD_PID" 2>/dev/null || true
  SSHD_PID=
}
