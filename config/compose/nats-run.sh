#!/bin/sh
# Starts a NATS node of the docker-compose profile "cluster" once the
# passwords its users file names are set (from .env through
# docker-compose.yml): an empty one would let that user in without a password.
set -u
missing=""
for v in GW_NATS_SERVER_PASSWORD GW_NATS_ROOM_101_PASSWORD; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || missing="$missing $v"
done
if [ -n "$missing" ]; then
  echo "refusing to start: set$missing in .env (docs/cluster.md, \"Setting up NATS\")" >&2
  exit 2
fi
exec nats-server -c "$1"
