#!/usr/bin/env bash
# Every class of every shipped jar is Java 11 bytecode (major version 55), and
# the Flink Agents stand-in ships in none of them.
# usage: class_version_test.sh BUILD_DIR
set -euo pipefail
j=$(realpath "$1")/java
java -cp "$j/actionjournal-tests.jar" io.actionjournal.test.ClassVersionCheck \
  "$j/actionjournal.jar" "$j/actionjournal-flink-agents.jar"
