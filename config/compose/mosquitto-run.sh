#!/bin/sh
# Starts Mosquitto once the server has written its password and ACL files
# (shared volume /mosquitto/auth), and makes it re-read them (SIGHUP) when
# they change: a provisioned, rotated or revoked agent takes effect within
# a few seconds. The files are copied to /mosquitto/run-auth, owned by the
# mosquitto user (the server writes them mode 600 as its own user).
set -u
AUTH=/mosquitto/auth
RUN=/mosquitto/run-auth
install_files() {
  mkdir -p "$RUN"
  for f in passwd acl; do
    cp "$AUTH/$f" "$RUN/$f.tmp" && chown mosquitto:mosquitto "$RUN/$f.tmp" && chmod 600 "$RUN/$f.tmp" && mv "$RUN/$f.tmp" "$RUN/$f"
  done
}
until [ -s "$AUTH/passwd" ] && [ -s "$AUTH/acl" ]; do
  echo "waiting for $AUTH/passwd and $AUTH/acl (written by the gridwatch server)"
  sleep 2
done
install_files
mosquitto -c /mosquitto/config/mosquitto.conf &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
stamp() { cat "$AUTH/passwd" "$AUTH/acl" | md5sum; }
last=$(stamp)
while kill -0 "$pid" 2>/dev/null; do
  sleep 2
  now=$(stamp)
  if [ "$now" != "$last" ]; then
    last=$now
    install_files
    kill -HUP "$pid"
  fi
done
wait "$pid"
