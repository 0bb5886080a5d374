#!/usr/bin/env bash
# The pure-Java client's side of the wire contract, against a scripted
# in-process server (GrpcClientChecks): retries, stored entries, pages and
# left-out payloads.
# usage: grpc_client_test.sh BUILD_DIR
set -euo pipefail
j=$(realpath "$1")/java
java -cp "$j/actionjournal-tests.jar:$j/actionjournal.jar:$(cat "$j/runtime-classpath.txt")" \
  io.actionjournal.test.GrpcClientChecks
