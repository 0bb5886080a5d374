// actionjournal-server: serves the journal over gRPC.
//
//   actionjournal-server [flags]          serve
//   actionjournal-server migrate [flags]  apply the store's schema and exit
//
// Every flag has an environment variable (ACTIONJOURNAL_<FLAG>, upper case,
// '-' as '_'); a flag given on the command line wins.
#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "prometheus/exposer.h"
#include "server/auth.h"
#include "server/gateway.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/store_url.h"
#include "server/tls.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7450",
          "gRPC address (host:port; port 0 picks a free one)");
ABSL_FLAG(std::string, store, "sqlite://data/actionjournal.db",
          "store URL: sqlite://<path>, memory: or postgresql://...");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9450",
          "Prometheus /metrics address (host:port; port 0 picks a free one; "
          "empty turns metrics off)");
ABSL_FLAG(int, workers, 32,
          "threads running reads and prunes (writes run on the group-commit "
          "threads)");
ABSL_FLAG(int, queue_capacity, 4096,
          "writes, and reads, that may wait before RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_payload_bytes, 4 * 1024 * 1024,
          "largest step result, step error or completion state, in bytes");
ABSL_FLAG(int, max_record_key_bytes, 4096, "largest record_key, in bytes");
ABSL_FLAG(int, max_action_key_bytes, 512, "largest action_key, in bytes");
ABSL_FLAG(int, max_prune_keys, 10000, "most (key, seq) pairs in one Prune");
ABSL_FLAG(int, max_batch_items, 1000, "most items in one AppendActions");
ABSL_FLAG(absl::Duration, health_timeout, absl::Seconds(2),
          "a store ping unanswered this long makes readiness NOT_SERVING");
ABSL_FLAG(absl::Duration, health_interval, absl::Seconds(1),
          "how often health checks the store");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(30),
          "how long SIGTERM waits for in-flight RPCs");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");
ABSL_FLAG(std::string, log_format, "text",
          "text (one line per event) or json (one object per line)");
ABSL_FLAG(int64_t, max_answer_bytes, 3 * 1024 * 1024,
          "largest answer, in bytes; payloads that do not fit are read with "
          "ReadPayload (keep it under clients' 4 MiB receive limit)");
ABSL_FLAG(int64_t, max_held_answer_bytes, 256 * 1024 * 1024,
          "bytes of answers held for clients that have not read them; past "
          "it, reads answer RESOURCE_EXHAUSTED (retryable)");
ABSL_FLAG(int64_t, max_held_answer_bytes_per_client, 32 * 1024 * 1024,
          "the same for one client connection");
ABSL_FLAG(int, max_streams_per_connection, 100,
          "concurrent RPCs one connection may have open");
ABSL_FLAG(int, pg_pool_size, 8,
          "PostgreSQL connections one server keeps open at most (reads, "
          "health and the write transactions share them)");
ABSL_FLAG(int, pg_write_transactions, 2,
          "PostgreSQL group-commit transactions running at once (1 to "
          "--pg-pool-size); the rest of the pool serves reads and health");
ABSL_FLAG(absl::Duration, pg_link_timeout, absl::Seconds(10),
          "how long a silent link to PostgreSQL (partition, vanished host) "
          "goes unnoticed, at either end; also how long a session may sit "
          "idle in a transaction");
ABSL_FLAG(bool, pg_transaction_pooling, false,
          "PostgreSQL is reached through a pooler in transaction mode "
          "(pgbouncer pool_mode=transaction): use no prepared statements and "
          "no session settings");
ABSL_FLAG(std::string, distribute, "",
          "with migrate on PostgreSQL: 'citus' also distributes the tables "
          "by job on a Citus cluster (docs/scale.md)");
ABSL_FLAG(int64_t, grpc_memory_bytes, 512 * 1024 * 1024,
          "memory gRPC may use for connections and buffers, in bytes");
ABSL_FLAG(absl::Duration, prune_retention, absl::Hours(24),
          "how long a pruned record stays, still answered to a replay (a "
          "restore from an older checkpoint or savepoint), before the sweep "
          "deletes it, unless the Prune names its own; 0 deletes at once");
ABSL_FLAG(absl::Duration, record_ttl, absl::Hours(24 * 7),
          "records unwritten for this long (never pruned: a cancelled job, a "
          "changed job id) are deleted by the sweep; 0 keeps them forever");
ABSL_FLAG(absl::Duration, sweep_interval, absl::Minutes(1),
          "how often the server deletes what retention and TTL made due, in "
          "transactions of --sweep-batch records; 0 turns sweeping off");
ABSL_FLAG(int, sweep_batch, 1000, "most records one sweep transaction deletes");
ABSL_FLAG(int, compression_min_bytes, 1024,
          "payloads of at least this many bytes are stored zstd-compressed "
          "(when that saves space); 0 turns compression off (stored payloads "
          "are still read back)");
ABSL_FLAG(int, compression_level, 3, "zstd level, 1 (fastest) to 19");
ABSL_FLAG(int, dedup_min_bytes, 2048,
          "payloads of at least this many bytes as stored (after "
          "compression) are stored once per job, however many entries hold "
          "them; 0 turns it off (payloads stored once are still read back)");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for TLS on --listen (with --tls-key-file); "
          "re-read when it changes");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: clients must present a certificate it signed "
          "(mutual TLS)");
ABSL_FLAG(std::string, metrics_tls_cert_file, "",
          "PEM certificate chain for HTTPS on --metrics-listen (with "
          "--metrics-tls-key-file); re-read when it changes");
ABSL_FLAG(std::string, metrics_tls_key_file, "",
          "PEM private key of --metrics-tls-cert-file");
ABSL_FLAG(std::string, health_listen, "",
          "a plaintext address serving only gRPC health, for Kubernetes' "
          "gRPC probes when --listen uses TLS; empty: none");
ABSL_FLAG(std::string, http_listen, "",
          "host:port of the HTTP/JSON gateway and the web console (the read "
          "APIs and GetStats; the same tokens as gRPC, plain HTTP); empty: "
          "off");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "who may do what to which job (docs/operations.md, \"Security\"); "
          "re-read when it changes; empty: every caller may do anything");
ABSL_FLAG(bool, insecure_allow_unauthenticated, false,
          "serve without --auth-tokens-file on an address other than "
          "loopback or a Unix socket");
ABSL_FLAG(absl::Duration, reload_interval, absl::Seconds(5),
          "how often the TLS files and the tokens file are checked for "
          "changes");

namespace actionjournal {
namespace {

// Environment variables become the flags' defaults.
void ApplyEnvironment() {
  for (const char* name :
       {"listen", "metrics_listen", "store", "workers", "queue_capacity",
        "max_payload_bytes", "max_record_key_bytes", "max_action_key_bytes",
        "max_prune_keys", "max_batch_items", "health_interval",
        "health_timeout", "shutdown_grace", "log_level", "log_format",
        "max_answer_bytes", "max_held_answer_bytes",
        "max_held_answer_bytes_per_client", "max_streams_per_connection",
        "grpc_memory_bytes", "prune_retention", "record_ttl", "sweep_interval",
        "sweep_batch", "compression_min_bytes", "compression_level",
        "dedup_min_bytes", "tls_cert_file", "tls_key_file",
        "tls_client_ca_file", "metrics_tls_cert_file", "metrics_tls_key_file",
        "health_listen", "http_listen", "auth_tokens_file",
        "insecure_allow_unauthenticated", "reload_interval",
        // The PostgreSQL connection budget.
        "pg_pool_size", "pg_write_transactions", "pg_transaction_pooling",
        "pg_link_timeout"}) {
    std::string env = "ACTIONJOURNAL_" + absl::AsciiStrToUpper(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      LogError("bad ", env, "='", value, "': ", error);
      std::exit(2);
    }
  }
}

// "host:port" -> "host".
std::string HostOf(const std::string& address) {
  return address.substr(0, address.rfind(':'));
}

// Whether only this machine (this pod) can reach `address`: a loopback
// host or a Unix socket.
bool IsLocal(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return true;
  const std::string host = HostOf(address);
  return host == "localhost" || absl::StartsWith(host, "127.") ||
         host == "[::1]" || host == "::1";
}

// Accepts --metrics-listen as well as --metrics_listen.
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& a = out[i];
    if (a.rfind("--", 0) != 0) continue;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t j = 2; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  return out;
}

// gRPC's and protobuf's own log lines, in the server's format.
void RouteLibraryLogs() {
  gpr_set_log_function([](gpr_log_func_args* args) {
    const LogLevel level =
        args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
        : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                  : LogLevel::kDebug;
    const std::string where = absl::StrCat(args->file, ":", args->line);
    Log(level, args->message, {{"source", "grpc"}, {"at", where}});
  });
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level,
                                     const char* file, int line,
                                     const std::string& message) {
    const std::string where = absl::StrCat(file, ":", line);
    Log(level >= google::protobuf::LOGLEVEL_ERROR ? LogLevel::kError
                                                  : LogLevel::kWarning,
        message, {{"source", "protobuf"}, {"at", where}});
  });
}

// Stops the process if a stop outlives its grace by `margin`: a store call
// that cannot be cancelled must not turn SIGTERM into Kubernetes' SIGKILL.
void ExitIfStuck(absl::Duration after) {
  std::thread([after] {
    absl::SleepFor(after);
    LogError("stop did not finish ", absl::FormatDuration(after),
             " after the signal; exiting now");
    std::_Exit(1);
  }).detach();
}

// A start-up step's failure: InvalidArgument for a bad flag or argument
// (exit code 2), anything else for what could not start (exit code 1). Its
// message is the log line.
int Fail(const absl::Status& status) {
  LogError(status.message());
  return absl::IsInvalidArgument(status) ? 2 : 1;
}

// A component's refusal of what the flags gave it: a bad flag (exit code 2).
absl::Status FlagError(const absl::Status& refusal) {
  return absl::InvalidArgumentError(refusal.message());
}

void SetUpFlags() {
  absl::SetProgramUsageMessage(
      "serves the actionjournal gRPC API.\n\n"
      "  actionjournal-server [--flag=value ...]          serve\n"
      "  actionjournal-server migrate [--store=URL ...]   apply the store's "
      "schema and exit\n"
      "  actionjournal-server migrate --store=postgresql://... "
      "--distribute=citus\n"
      "                                                   and distribute it "
      "on Citus\n\n"
      "Every flag also reads ACTIONJOURNAL_<FLAG> (upper case, '_' for '-');\n"
      "a flag on the command line wins. Flags accept '-' or '_' in names.");
  absl::FlagsUsageConfig usage;
  // Every flag of this program, none of abseil's own.
  usage.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] {
    return std::string("actionjournal-server " ACTIONJOURNAL_VERSION "\n");
  };
  absl::SetFlagsUsageConfig(usage);
}

// Parses the environment and the command line into the flags; true for
// `migrate`.
absl::StatusOr<bool> ParseArguments(int argc, char** argv) {
  ApplyEnvironment();
  std::vector<std::string> normalized = NormalizeFlagNames(argc, argv);
  std::vector<char*> raw;
  for (std::string& a : normalized) raw.push_back(a.data());
  std::vector<char*> args =
      absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  const bool migrate = args.size() > 1 && std::string(args[1]) == "migrate";
  if (args.size() > (migrate ? 2u : 1u)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown argument '", args.back(), "'; the only command is migrate"));
  }
  return migrate;
}

absl::Status SetUpLogging() {
  const std::string level = absl::GetFlag(FLAGS_log_level);
  if (level != "debug" && level != "info" && level != "warn" &&
      level != "error") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log-level must be debug, info, warn or error, not '", level, "'"));
  }
  SetMinLogLevel(level == "debug"   ? LogLevel::kDebug
                 : level == "warn"  ? LogLevel::kWarning
                 : level == "error" ? LogLevel::kError
                                    : LogLevel::kInfo);
  const std::string format = absl::GetFlag(FLAGS_log_format);
  if (format != "text" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format must be text or json, not '", format, "'"));
  }
  SetLogFormat(format == "json" ? LogFormat::kJson : LogFormat::kText);
  RouteLibraryLogs();
  return absl::OkStatus();
}

// Blocks the stop signals in every thread; the main thread waits for them.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

absl::StatusOr<JournalOptions> JournalOptionsFromFlags() {
  JournalOptions o;
  o.max_queued_writes = absl::GetFlag(FLAGS_queue_capacity);
  o.record_ttl = absl::GetFlag(FLAGS_record_ttl);
  o.sweep_every = absl::GetFlag(FLAGS_sweep_interval);
  o.sweep_batch = absl::GetFlag(FLAGS_sweep_batch);
  o.compression.min_bytes = absl::GetFlag(FLAGS_compression_min_bytes);
  o.compression.level = absl::GetFlag(FLAGS_compression_level);
  o.dedup.min_bytes = absl::GetFlag(FLAGS_dedup_min_bytes);
  if (o.dedup.min_bytes < 0) {
    return absl::InvalidArgumentError("--dedup-min-bytes must be >= 0");
  }
  if (o.compression.min_bytes < 0 || o.compression.level < 1 ||
      o.compression.level > 19) {
    return absl::InvalidArgumentError(
        "--compression-min-bytes must be >= 0, --compression-level 1-19");
  }
  if (o.record_ttl < absl::ZeroDuration() ||
      o.sweep_every < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_prune_retention) < absl::ZeroDuration() ||
      o.sweep_batch < 1) {
    return absl::InvalidArgumentError(
        "--prune-retention, --record-ttl and --sweep-interval must be >= 0, "
        "--sweep-batch >= 1");
  }
  return o;
}

// Checked by the store (CheckPostgresStoreOptions) whatever the URL, so that
// a bad flag is refused before the first connection.
absl::StatusOr<PostgresStoreOptions> PostgresOptionsFromFlags() {
  PostgresStoreOptions o;
  o.pool_size = absl::GetFlag(FLAGS_pg_pool_size);
  o.max_write_transactions = absl::GetFlag(FLAGS_pg_write_transactions);
  o.transaction_pooling = absl::GetFlag(FLAGS_pg_transaction_pooling);
  o.link_timeout = absl::GetFlag(FLAGS_pg_link_timeout);
  const std::string distribute = absl::GetFlag(FLAGS_distribute);
  if (distribute != "" && distribute != "citus") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--distribute must be empty or 'citus', not '", distribute, "'"));
  }
  o.distribute_citus = distribute == "citus";
  if (absl::Status s = CheckPostgresStoreOptions(o); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pg-pool-size, --pg-write-transactions or "
                     "--pg-link-timeout: ",
                     s.message()));
  }
  return o;
}

absl::StatusOr<ServerOptions> ServerOptionsFromFlags() {
  ServerOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.workers = absl::GetFlag(FLAGS_workers);
  o.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  RequestLimits& limits = o.service.limits;
  limits.max_payload = absl::GetFlag(FLAGS_max_payload_bytes);
  limits.max_record_key = absl::GetFlag(FLAGS_max_record_key_bytes);
  limits.max_action_key = absl::GetFlag(FLAGS_max_action_key_bytes);
  limits.max_prune_keys = absl::GetFlag(FLAGS_max_prune_keys);
  limits.max_batch_items = absl::GetFlag(FLAGS_max_batch_items);
  limits.max_answer_bytes = absl::GetFlag(FLAGS_max_answer_bytes);
  o.service.max_held_answer_bytes = absl::GetFlag(FLAGS_max_held_answer_bytes);
  o.service.max_held_answer_bytes_per_client =
      absl::GetFlag(FLAGS_max_held_answer_bytes_per_client);
  o.max_streams_per_connection =
      absl::GetFlag(FLAGS_max_streams_per_connection);
  o.grpc_memory_bytes = absl::GetFlag(FLAGS_grpc_memory_bytes);
  o.service.prune_retention = absl::GetFlag(FLAGS_prune_retention);
  o.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  o.tls_refresh = absl::GetFlag(FLAGS_reload_interval);
  o.health_listen = absl::GetFlag(FLAGS_health_listen);
  o.health_interval = absl::GetFlag(FLAGS_health_interval);
  o.health_timeout = absl::GetFlag(FLAGS_health_timeout);
  o.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (o.workers < 1 || o.queue_capacity < 1 || limits.max_payload < 1 ||
      limits.max_record_key < 1 || limits.max_action_key < 1 ||
      limits.max_prune_keys < 1 || limits.max_batch_items < 1 ||
      limits.max_answer_bytes < 4096 || o.service.max_held_answer_bytes < 1 ||
      o.service.max_held_answer_bytes_per_client < 1 ||
      o.max_streams_per_connection < 1 || o.grpc_memory_bytes < 1) {
    return absl::InvalidArgumentError(
        "--workers, --queue_capacity, --max-streams-per-connection, "
        "--grpc-memory-bytes and the --max_* limits must be >= 1 "
        "(--max-answer-bytes >= 4096)");
  }
  if (o.health_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--health-timeout must be > 0");
  }
  if (o.tls_refresh < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--reload-interval must be >= 1s");
  }
  if (absl::Status s = CheckTlsFiles(o.tls, "--tls"); !s.ok()) {
    return FlagError(s);
  }
  return o;
}

absl::StatusOr<TlsFiles> MetricsTlsFromFlags() {
  TlsFiles tls;
  tls.cert_file = absl::GetFlag(FLAGS_metrics_tls_cert_file);
  tls.key_file = absl::GetFlag(FLAGS_metrics_tls_key_file);
  if (absl::Status s = CheckTlsFiles(tls, "--metrics-tls"); !s.ok()) {
    return FlagError(s);
  }
  return tls;
}

// The tokens file's reader, or none where serving unauthenticated is allowed
// (a loopback or Unix socket address, or the deployer's explicit choice).
absl::StatusOr<std::unique_ptr<Authenticator>> OpenAuthenticator(
    const ServerOptions& options) {
  const std::string tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  if (!tokens_file.empty()) {
    auto opened = Authenticator::Open(tokens_file, options.tls_refresh);
    if (!opened.ok()) {
      return FlagError(opened.status());
    }
    return opened;
  }
  if (!IsLocal(options.listen) &&
      !absl::GetFlag(FLAGS_insecure_allow_unauthenticated)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve unauthenticated on ", options.listen,
        ", which other machines can reach: give --auth-tokens-file "
        "(docs/operations.md, \"Security\"), listen on loopback or a Unix "
        "socket, or accept the risk with --insecure-allow-unauthenticated"));
  }
  return nullptr;
}

// /metrics over HTTPS or HTTP, or off.
struct MetricsEndpoint {
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<HttpServer> https;
  std::string at = "off";
};

absl::StatusOr<MetricsEndpoint> ServeMetricsFromFlags(ServerMetrics& metrics,
                                                      const TlsFiles& tls,
                                                      absl::Duration refresh) {
  const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
  MetricsEndpoint m;
  if (listen.empty()) return m;
  if (tls.enabled()) {
    auto context = TlsServerContext::Make(tls, refresh, "--metrics-tls");
    if (!context.ok()) return context.status();
    auto served =
        HttpServer::Start("--metrics-listen", listen,
                          MetricsPage(metrics.registry()), *std::move(context));
    if (!served.ok()) return absl::InternalError(served.status().message());
    m.https = *std::move(served);
    m.at = absl::StrCat(HostOf(listen), ":", m.https->port());
  } else {
    auto served = ServeMetrics(listen, metrics.registry());
    if (!served.ok()) return absl::InternalError(served.status().message());
    m.exposer = *std::move(served);
    m.at = absl::StrCat(HostOf(listen), ":", MetricsPort(*m.exposer));
  }
  return m;
}

// The HTTP/JSON gateway and the console, or none: over HTTPS with the gRPC
// port's certificate when that port has TLS.
absl::StatusOr<std::unique_ptr<HttpGateway>> StartGatewayFromFlags(
    JournalServer& server, const ServerOptions& options, bool authenticated) {
  const std::string listen = absl::GetFlag(FLAGS_http_listen);
  if (listen.empty()) return nullptr;
  // Beyond this machine only with tokens; without the gRPC port's TLS they
  // travel in the clear (operations.md says so).
  if (!IsLocal(listen) && !authenticated &&
      !absl::GetFlag(FLAGS_insecure_allow_unauthenticated)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve the unauthenticated HTTP gateway on ", listen,
        ", which other machines can reach: give --auth-tokens-file, listen "
        "on loopback, or accept the risk with "
        "--insecure-allow-unauthenticated"));
  }
  std::unique_ptr<TlsServerContext> tls;
  if (options.tls.enabled()) {
    auto context = TlsServerContext::Make(options.tls, options.tls_refresh,
                                          "--tls (the HTTP gateway)");
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  auto started =
      HttpGateway::Start(listen, server.InProcessChannel(), std::move(tls));
  if (!started.ok()) return absl::InternalError(started.status().message());
  return started;
}

void LogListening(const ServerOptions& options, const JournalServer& server,
                  const std::string& url, const MetricsEndpoint& metrics,
                  bool metrics_tls, const HttpGateway* gateway,
                  bool authenticated) {
  const std::string grpc_at =
      absl::StartsWith(options.listen, "unix:")
          ? options.listen
          : absl::StrCat(HostOf(options.listen), ":", server.port());
  const std::string tls = !options.tls.enabled()               ? "off"
                          : options.tls.client_ca_file.empty() ? "on"
                                                               : "mutual";
  const std::string health_at =
      options.health_listen.empty()
          ? "off"
          : absl::StrCat(HostOf(options.health_listen), ":",
                         server.health_port());
  const std::string http_at =
      gateway == nullptr
          ? "off"
          : absl::StrCat(HostOf(absl::GetFlag(FLAGS_http_listen)), ":",
                         gateway->port());
  Log(LogLevel::kInfo,
      "actionjournal-server " ACTIONJOURNAL_VERSION " listening",
      {{"grpc", grpc_at},
       {"metrics", metrics.at},
       {"store", RedactStoreUrl(url)},
       {"tls", tls},
       {"metrics_tls", metrics_tls ? "on" : "off"},
       {"health", health_at},
       {"http", http_at},
       {"http_tls", gateway != nullptr && gateway->tls() ? "on" : "off"},
       {"auth", authenticated ? "tokens" : "unauthenticated"}});
  if (!authenticated) {
    LogWarning(
        "unauthenticated: every caller that reaches ", grpc_at,
        " may read, write and prune every job (give --auth-tokens-file)");
  }
}

// Waits for SIGTERM or SIGINT, then stops: in-flight RPCs get the grace, and
// at its end the store's calls still running are cancelled.
void StopOnSignal(const sigset_t& stop_signals, absl::Duration grace,
                  std::unique_ptr<JournalServer> server,
                  std::unique_ptr<HttpGateway> gateway, JournalStore& store) {
  int sig = 0;
  sigwait(&stop_signals, &sig);
  const std::string signal_name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
  Log(LogLevel::kInfo, "stopping; finishing in-flight RPCs",
      {{"signal", signal_name}, {"grace", absl::FormatDuration(grace)}});
  ExitIfStuck(grace + absl::Seconds(5));
  // gRPC cancels the RPCs at the end of the grace, and the store its
  // statements (a call stuck on a row lock would otherwise hold the stop
  // for its statement timeout).
  absl::Notification stopped;
  std::thread canceller([&] {
    if (!stopped.WaitForNotificationWithTimeout(grace)) {
      LogWarning("grace passed; cancelling the store's calls still running");
      store.Cancel();
    }
  });
  gateway.reset();  // no new HTTP calls into the stopping service
  server->Shutdown();
  LogDebug("stop: gRPC server down");
  stopped.Notify();
  canceller.join();
  server.reset();
  LogDebug("stop: executor drained");
}

int Main(int argc, char** argv) {
  SetUpFlags();
  // Debian's abseil checks every mutex acquisition for lock-order cycles;
  // in a server that costs a few percent of its CPU and finds nothing the
  // tests would not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<bool> migrate = ParseArguments(argc, argv);
  if (!migrate.ok()) return Fail(migrate.status());
  if (absl::Status s = SetUpLogging(); !s.ok()) return Fail(s);
  const sigset_t stop_signals = BlockStopSignals();

  const std::string url = absl::GetFlag(FLAGS_store);
  // No line this process writes may show the store's secrets, whatever
  // error carries them.
  for (const std::string& secret : StoreSecrets(url)) AddLogSecret(secret);
  ServerMetrics metrics(StoreKind(url));
  auto journal_options = JournalOptionsFromFlags();
  if (!journal_options.ok()) return Fail(journal_options.status());
  auto postgres = PostgresOptionsFromFlags();
  if (!postgres.ok()) return Fail(postgres.status());
  if (postgres->distribute_citus &&
      (!*migrate || StoreKind(url) != "postgresql")) {
    return Fail(absl::InvalidArgumentError(
        "--distribute is for the migrate command on a PostgreSQL store"));
  }
  auto store = OpenStore(url, *journal_options, &metrics, *postgres);
  if (!store.ok()) {
    return Fail(absl::InternalError(absl::StrCat("cannot open store ",
                                                 RedactStoreUrl(url), ": ",
                                                 store.status().ToString())));
  }
  if (*migrate) {
    LogInfo("schema of ", RedactStoreUrl(url), " is up to date");
    return 0;
  }

  auto options = ServerOptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  auto metrics_tls = MetricsTlsFromFlags();
  if (!metrics_tls.ok()) return Fail(metrics_tls.status());
  auto authenticator = OpenAuthenticator(*options);
  if (!authenticator.ok()) return Fail(authenticator.status());
  options->service.authenticator = authenticator->get();
  auto endpoint =
      ServeMetricsFromFlags(metrics, *metrics_tls, options->tls_refresh);
  if (!endpoint.ok()) return Fail(endpoint.status());
  auto server = JournalServer::Start(*options, **store, &metrics);
  if (!server.ok()) {
    return Fail(absl::InternalError(server.status().ToString()));
  }
  auto gateway =
      StartGatewayFromFlags(**server, *options, *authenticator != nullptr);
  if (!gateway.ok()) return Fail(gateway.status());
  LogListening(*options, **server, url, *endpoint, metrics_tls->enabled(),
               gateway->get(), *authenticator != nullptr);

  StopOnSignal(stop_signals, options->shutdown_grace, *std::move(server),
               *std::move(gateway), **store);
  // Stopping the metrics server (civetweb) takes a second of polling; the
  // process is about to exit, so it is kept, still reachable, instead.
  static prometheus::Exposer* const kept_exposer = endpoint->exposer.release();
  (void)kept_exposer;
  store->reset();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) { return actionjournal::Main(argc, argv); }
