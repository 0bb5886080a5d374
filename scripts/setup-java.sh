#!/usr/bin/env bash
# Makes Flink Agents 0.3.1 (api, plan, runtime) resolvable by the Java build.
# Maven Central has it; a registry that does not serve it (this project's
# machines: every org.apache.flink:flink-agents-* answers 404) gets it built
# from Flink Agents' own source at tag release-0.3.1 into the local Maven
# repository, once. The source is a git checkout or bare git directory named
# by AJ_FLINK_AGENTS_SRC (default: /work/.mirror/apache+flink-agents/repo).
# Exits 3 when neither way works, saying so; scripts/test.sh then runs the
# Java tests that do not need Flink Agents and reports the rest as not run.
set -euo pipefail
version=0.3.1
mvn_=(mvn -B -ntp -q)
have() {
  "${mvn_[@]}" dependency:get -Dtransitive=false \
    -Dartifact="org.apache.flink:flink-agents-runtime:$version" >/dev/null 2>&1 &&
    "${mvn_[@]}" dependency:get -Dtransitive=false \
      -Dartifact="org.apache.flink:flink-agents-plan:$version" >/dev/null 2>&1
}
have && exit 0
src=${AJ_FLINK_AGENTS_SRC:-/work/.mirror/apache+flink-agents/repo}
if ! git -C "$src" rev-parse -q --verify "release-$version^{commit}" >/dev/null 2>&1; then
  echo "setup-java: Flink Agents $version is neither served by the Maven registry" \
    "nor in a source checkout (AJ_FLINK_AGENTS_SRC=$src, tag release-$version)" >&2
  exit 3
fi
tree=$(mktemp -d /tmp/aj-flink-agents.XXXXXX)
trap 'rm -rf "$tree"' EXIT
echo "setup-java: building Flink Agents $version from $src (the registry does not serve it)" >&2
git -C "$src" archive "release-$version" | tar -x -C "$tree"
# Fluss 0.9.0-incubating, which 0.3.1's pom names, is not served either; the
# modules built here do not use it, but Maven resolves the property.
(cd "$tree" && mvn -B -ntp -q install -pl api,plan,runtime -am -DskipTests \
  -Dspotless.skip=true -Drat.skip=true -Dcheckstyle.skip=true \
  -Dfluss.version=0.9.1-incubating)
have
