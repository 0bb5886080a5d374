// The actionjournal gRPC server: the journal service, gRPC health (SERVING
// only while the store answers) and server reflection.
#ifndef ACTIONJOURNAL_SERVER_SERVER_H_
#define ACTIONJOURNAL_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/convert.h"
#include "server/executor.h"
#include "server/journal_service.h"
#include "server/metrics.h"
#include "server/tls.h"
#include "storage/journal_store.h"

namespace actionjournal {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see JournalServer::port).
  std::string listen = "127.0.0.1:7450";
  // TLS on `listen` (mutual TLS with a client CA); off: plaintext.
  TlsFiles tls;
  // How often the TLS files are checked for a rotated certificate.
  absl::Duration tls_refresh = absl::Seconds(5);
  // A second, plaintext address that serves only gRPC health, for
  // Kubernetes' gRPC probes, which cannot speak TLS; empty: none.
  std::string health_listen;
  // Threads running store work.
  int workers = 32;
  // Store calls that may wait for a worker before RESOURCE_EXHAUSTED.
  int queue_capacity = 4096;
  // Request limits, the answer bound and the answer memory.
  ServiceOptions service;
  // Streams one connection may have open at once (HTTP/2
  // MAX_CONCURRENT_STREAMS); more wait in the client.
  int max_streams_per_connection = 100;
  // Memory gRPC may use for its connections and their buffers, in bytes;
  // under pressure it shrinks windows and refuses new streams rather than
  // growing the process past a pod's limit.
  int64_t grpc_memory_bytes = 512 * 1024 * 1024;
  // How often health pings the store.
  absl::Duration health_interval = absl::Seconds(1);
  // A ping unanswered for this long makes the server NOT_SERVING at once,
  // without waiting for the ping to fail (a silent network partition fails
  // it only when TCP gives up).
  absl::Duration health_timeout = absl::Seconds(2);
  // How long shutdown waits for in-flight RPCs before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(30);
};

// Health services: "" and "actionjournal.v1.ActionJournal" are SERVING while
// the store answers (readiness); kLivenessService while the process serves,
// whatever the store (liveness: restarting would not bring a database back).
inline constexpr char kLivenessService[] = "liveness";

// Thread-safe.
class JournalServer {
 public:
  // Starts serving `store`, which must outlive the server, as must `metrics`
  // (may be null). UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<JournalServer>> Start(
      const ServerOptions& options, JournalStore& store,
      ServerMetrics* metrics = nullptr);
  ~JournalServer();

  // The bound port.
  int port() const { return port_; }
  // The health-only port; 0 when there is none.
  int health_port() const { return health_port_; }

  // A channel to this server's own service, in process (the HTTP gateway's):
  // calls go through the same authentication, limits and validation.
  std::shared_ptr<grpc::Channel> InProcessChannel() {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }

  // Stops accepting, reports NOT_SERVING, lets in-flight RPCs finish (up to
  // the grace period, then cancels them) and drains the executor.
  // Idempotent.
  void Shutdown();

  // Serialized answers held for clients, in bytes.
  int64_t held_answer_bytes() const { return service_.held_answer_bytes(); }

 private:
  JournalServer(const ServerOptions& options, JournalStore& store,
                ServerMetrics* metrics);
  void PingLoop();
  void HealthLoop();
  void SetHealth(bool store_answers);

  const ServerOptions options_;
  JournalStore& store_;
  ServerMetrics* const metrics_;  // may be null
  Executor executor_;
  JournalService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The ping in progress (started when pinging_), or the last one's answer.
  bool pinging_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time ping_started_ ABSL_GUARDED_BY(mu_);
  absl::Status last_ping_ ABSL_GUARDED_BY(mu_);
  std::thread ping_thread_;
  std::thread health_thread_;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_SERVER_H_
