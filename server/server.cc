#include "server/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"

namespace actionjournal {

JournalServer::JournalServer(const ServerOptions& options, JournalStore& store,
                             ServerMetrics* metrics)
    : options_(options),
      store_(store),
      metrics_(metrics),
      executor_(options.workers, options.queue_capacity),
      service_(store, executor_, options.service, metrics) {}

absl::StatusOr<std::unique_ptr<JournalServer>> JournalServer::Start(
    const ServerOptions& options, JournalStore& store, ServerMetrics* metrics) {
  std::unique_ptr<JournalServer> s(new JournalServer(options, store, metrics));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.listen,
      options.tls.enabled()
          ? WatchedServerCredentials(options.tls, options.tls_refresh)
          : grpc::InsecureServerCredentials(),
      &s->port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.service.limits.MaxMessageBytes()));
  // Answers are bounded by the service (max_answer_bytes); this is a guard.
  builder.SetMaxSendMessageSize(4 * 1024 * 1024);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.max_streams_per_connection);
  // Clients ping every 10 s to notice a connection that died silently
  // (ClientOptions::keepalive_time); gRPC's default answers pings more
  // often than every 5 minutes with GOAWAY ("too_many_pings"). The server
  // pings too, so that a client host that vanished releases its streams.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  grpc::ResourceQuota quota("actionjournal");
  quota.Resize(static_cast<size_t>(options.grpc_memory_bytes));
  builder.SetResourceQuota(quota);
  builder.RegisterService(&s->service_);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError("cannot listen on " + options.listen);
  }
  if (!options.health_listen.empty()) {
    // Nothing but the default health service (and reflection, which every
    // builder gets): no journal call can reach this port.
    grpc::ServerBuilder health;
    health.AddListeningPort(options.health_listen,
                            grpc::InsecureServerCredentials(),
                            &s->health_port_);
    s->health_server_ = health.BuildAndStart();
    if (s->health_server_ == nullptr || s->health_port_ == 0) {
      return absl::UnavailableError("--health-listen: cannot listen on " +
                                    options.health_listen);
    }
  }
  {
    absl::MutexLock lock(&s->mu_);
    s->last_ping_ = store.Ping();
    s->SetHealth(s->last_ping_.ok());
  }
  s->ping_thread_ = std::thread([p = s.get()] { p->PingLoop(); });
  s->health_thread_ = std::thread([p = s.get()] { p->HealthLoop(); });
  return s;
}

JournalServer::~JournalServer() { Shutdown(); }

void JournalServer::SetHealth(bool store_answers) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    health->SetServingStatus("", store_answers);
    health->SetServingStatus(v1::ActionJournal::service_full_name(),
                             store_answers);
    health->SetServingStatus(kLivenessService, true);
  }
  if (metrics_ != nullptr) metrics_->OnStoreReady(store_answers);
}

// Pings the store every health_interval; a ping may take as long as the
// store lets it (a partitioned link: until TCP gives up), so HealthLoop
// judges readiness from how long the current one has been running.
void JournalServer::PingLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    pinging_ = true;
    ping_started_ = absl::Now();
    mu_.Unlock();
    absl::Status ping = store_.Ping();
    mu_.Lock();
    pinging_ = false;
    last_ping_ = std::move(ping);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.health_interval);
  }
}

void JournalServer::HealthLoop() {
  bool serving = true;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Status now = last_ping_;
    if (pinging_ && absl::Now() - ping_started_ > options_.health_timeout) {
      now = absl::DeadlineExceededError(
          absl::StrCat("a ping unanswered for more than ",
                       absl::FormatDuration(options_.health_timeout)));
    }
    if (now.ok() != serving) {
      serving = now.ok();
      if (serving) {
        LogInfo("store answers again; health SERVING");
      } else {
        LogWarning("store does not answer (", now.ToString(),
                   "); health NOT_SERVING");
      }
    }
    SetHealth(serving);
    // Often enough to notice a stuck ping within a tenth of the timeout.
    mu_.AwaitWithTimeout(
        absl::Condition(&stopping_),
        std::min(options_.health_interval, options_.health_timeout / 10));
  }
}

void JournalServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (health_thread_.joinable()) health_thread_.join();
  // A ping in progress ends within the store's own bounds (PostgreSQL: the
  // link timeout).
  if (ping_thread_.joinable()) ping_thread_.join();
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  const auto deadline = std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options_.shutdown_grace);
  // gRPC's shutdown also waits for every connection to close, which an idle
  // client may not do for seconds; once no RPC of ours is left, they are
  // closed at once.
  absl::Notification down;
  std::thread closer([this, &down] {
    while (!down.WaitForNotificationWithTimeout(absl::Milliseconds(5))) {
      if (service_.in_flight() == 0) {
        grpc_server_cancel_all_calls(server_->c_server());
      }
    }
  });
  server_->Shutdown(deadline);  // returns when in-flight RPCs finished
  down.Notify();
  closer.join();
  server_->Wait();
  if (health_server_ != nullptr) {
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
}

}  // namespace actionjournal
