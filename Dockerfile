# actionjournal-server and actionjournal-cli on Debian 12.
#
#   build stage: compiles with Ninja and runs the tests that need neither
#                PostgreSQL, kubectl nor a JDK: all but those labelled
#                "external" in tests/CMakeLists.txt (scripts/test.sh runs
#                those); the other PostgreSQL tests skip without a DSN;
#   runtime:     the two binaries and their shared libraries, as a non-root
#                user; the server is PID 1 and exits 0 on SIGTERM.
#
# Verified here without a Docker engine: scripts/container-test.sh builds
# this file unchanged with podman and runs it.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev libsqlite3-dev libpqxx-dev libgtest-dev libgmock-dev libzstd-dev \
      prometheus-cpp-dev libssl-dev openssl curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTIONJOURNAL_BUILD_JAVA=OFF \
 && ninja -C build -j2 \
 && ctest --test-dir build -j2 --output-on-failure --timeout 300 \
      -LE external \
 && strip --strip-debug build/server/actionjournal-server build/client/actionjournal-cli

FROM debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libsqlite3-0 libpqxx-6.4 libzstd1 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 actionjournal \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/actionjournal \
      --create-home --shell /usr/sbin/nologin actionjournal
COPY --from=build /src/build/server/actionjournal-server /src/build/client/actionjournal-cli /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/actionjournal
VOLUME /var/lib/actionjournal
# Every flag has an ACTIONJOURNAL_* variable; these suit a container. On
# 0.0.0.0 the server refuses to start without --auth-tokens-file (docs/operations.md,
# "Security"); 7451 is for --health-listen (plaintext probes beside TLS).
ENV ACTIONJOURNAL_LISTEN=0.0.0.0:7450 \
    ACTIONJOURNAL_METRICS_LISTEN=0.0.0.0:9450 \
    ACTIONJOURNAL_STORE=sqlite:///var/lib/actionjournal/actionjournal.db
EXPOSE 7450 7451 9450
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/actionjournal-server"]
