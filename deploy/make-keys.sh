#!/bin/sh
# deploy/make-keys.sh [DIR]: the files of the locked-down 3-node NATS cluster
# in deploy/nats, for a test or a small install: the CA, each server's TLS
# certificate (clients and routes), a client certificate and an nkey per
# component, and nkeys.conf. Runs `payrun keys nats` (Go; no openssl needed).
# Add a server's other names or addresses as NAME=HOST,HOST.
set -eu
dir=${1:-nats-keys}
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
cd "$(dirname "$0")/.."
exec go run ./cmd/payrun keys nats --dir "$dir" \
  --server payrun-nats-1 --server payrun-nats-2 --server payrun-nats-3
