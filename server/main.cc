// actionjournal-server: serves the journal over gRPC.
//
//   actionjournal-server [flags]          serve
//   actionjournal-server migrate [flags]  apply the store's schema and exit
//
// Every flag has an environment variable (ACTIONJOURNAL_<FLAG>, upper case,
// '-' as '_'); a flag given on the command line wins.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "prometheus/exposer.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/store_url.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7450",
          "gRPC address (host:port; port 0 picks a free one)");
ABSL_FLAG(std::string, store, "sqlite://data/actionjournal.db",
          "store URL: sqlite://<path>, memory: or postgresql://...");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9450",
          "Prometheus /metrics address (host:port; port 0 picks a free one; "
          "empty turns metrics off)");
ABSL_FLAG(int, workers, 32, "threads running reads and prunes (writes run on the group-commit threads)");
ABSL_FLAG(int, queue_capacity, 4096,
          "writes, and reads, that may wait before RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_payload_bytes, 4 * 1024 * 1024,
          "largest step result, step error or completion state, in bytes");
ABSL_FLAG(int, max_record_key_bytes, 4096, "largest record_key, in bytes");
ABSL_FLAG(int, max_action_key_bytes, 512, "largest action_key, in bytes");
ABSL_FLAG(int, max_prune_keys, 10000, "most (key, seq) pairs in one Prune");
ABSL_FLAG(absl::Duration, health_interval, absl::Seconds(1),
          "how often health checks the store");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(30),
          "how long SIGTERM waits for in-flight RPCs");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");

namespace actionjournal {
namespace {

// Environment variables become the flags' defaults.
void ApplyEnvironment() {
  for (const char* name :
       {"listen", "metrics_listen", "store", "workers", "queue_capacity", "max_payload_bytes",
        "max_record_key_bytes", "max_action_key_bytes", "max_prune_keys",
        "health_interval", "shutdown_grace", "log_level"}) {
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

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "actionjournal-server [migrate] [--flags]; see --help");
  // Debian's abseil checks every mutex acquisition for lock-order cycles;
  // in a server that costs a few percent of its CPU and finds nothing the
  // tests would not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ApplyEnvironment();
  std::vector<std::string> normalized = NormalizeFlagNames(argc, argv);
  std::vector<char*> raw;
  for (std::string& a : normalized) raw.push_back(a.data());
  std::vector<char*> args =
      absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  const bool migrate = args.size() > 1 && std::string(args[1]) == "migrate";
  if (args.size() > (migrate ? 2u : 1u)) {
    LogError("unknown argument '", args.back(), "'; the only command is migrate");
    return 2;
  }
  const std::string level = absl::GetFlag(FLAGS_log_level);
  MinLogLevel() = level == "debug" ? LogLevel::kDebug
                  : level == "warn" ? LogLevel::kWarning
                  : level == "error" ? LogLevel::kError
                                     : LogLevel::kInfo;

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string url = absl::GetFlag(FLAGS_store);
  ServerMetrics metrics(StoreKind(url));
  JournalOptions journal_options;
  journal_options.max_queued_writes = absl::GetFlag(FLAGS_queue_capacity);
  auto store = OpenStore(url, journal_options, &metrics);
  if (!store.ok()) {
    LogError("cannot open store ", RedactStoreUrl(url), ": ",
             store.status().ToString());
    return 1;
  }
  if (migrate) {
    LogInfo("schema of ", RedactStoreUrl(url), " is up to date");
    return 0;
  }

  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  options.limits.max_payload = absl::GetFlag(FLAGS_max_payload_bytes);
  options.limits.max_record_key = absl::GetFlag(FLAGS_max_record_key_bytes);
  options.limits.max_action_key = absl::GetFlag(FLAGS_max_action_key_bytes);
  options.limits.max_prune_keys = absl::GetFlag(FLAGS_max_prune_keys);
  options.health_interval = absl::GetFlag(FLAGS_health_interval);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (options.workers < 1 || options.queue_capacity < 1 ||
      options.limits.max_payload < 1 || options.limits.max_record_key < 1 ||
      options.limits.max_action_key < 1 || options.limits.max_prune_keys < 1) {
    LogError("--workers, --queue_capacity and the --max_* limits must be >= 1");
    return 2;
  }

  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string metrics_at = "off";
  if (!metrics_listen.empty()) {
    auto served = ServeMetrics(metrics_listen, metrics.registry());
    if (!served.ok()) {
      LogError(served.status().message());
      return 1;
    }
    exposer = *std::move(served);
    metrics_at = absl::StrCat(HostOf(metrics_listen), ":", MetricsPort(*exposer));
  }

  auto server = JournalServer::Start(options, **store, &metrics);
  if (!server.ok()) {
    LogError(server.status().ToString());
    return 1;
  }
  const std::string grpc_at =
      absl::StartsWith(options.listen, "unix:")
          ? options.listen
          : absl::StrCat(HostOf(options.listen), ":", (*server)->port());
  LogInfo("actionjournal-server listening grpc=", grpc_at, " metrics=", metrics_at,
          " store=", RedactStoreUrl(url));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  LogInfo("signal ", sig, ": stopping; finishing in-flight RPCs");
  (*server)->Shutdown();
  server->reset();
  exposer.reset();
  store->reset();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) { return actionjournal::Main(argc, argv); }
