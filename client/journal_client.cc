#include "client/journal_client.h"

#include <grpcpp/grpcpp.h>

#include "actionjournal/v1/journal.grpc.pb.h"

namespace actionjournal {
namespace {

class GrpcJournalClient final : public JournalClient {
 public:
  GrpcJournalClient(const ClientOptions& options,
                    std::shared_ptr<grpc::Channel> channel)
      : options_(options), stub_(v1::ActionJournal::NewStub(channel)) {}

  absl::StatusOr<v1::BeginRecordResponse> BeginRecord(
      const v1::BeginRecordRequest& request) override {
    return Call(&v1::ActionJournal::Stub::BeginRecord, request);
  }
  absl::StatusOr<v1::AppendActionResponse> AppendAction(
      const v1::AppendActionRequest& request) override {
    return Call(&v1::ActionJournal::Stub::AppendAction, request);
  }
  absl::StatusOr<v1::LookupActionResponse> LookupAction(
      const v1::LookupActionRequest& request) override {
    return Call(&v1::ActionJournal::Stub::LookupAction, request);
  }
  absl::StatusOr<v1::CompleteRecordResponse> CompleteRecord(
      const v1::CompleteRecordRequest& request) override {
    return Call(&v1::ActionJournal::Stub::CompleteRecord, request);
  }
  absl::StatusOr<v1::PruneResponse> Prune(
      const v1::PruneRequest& request) override {
    return Call(&v1::ActionJournal::Stub::Prune, request);
  }

 private:
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(
      grpc::Status (v1::ActionJournal::Stub::*method)(grpc::ClientContext*,
                                                      const Req&, Resp*),
      const Req& request) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
    Resp response;
    grpc::Status s = (stub_.get()->*method)(&ctx, request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return response;
  }

  const ClientOptions options_;
  std::unique_ptr<v1::ActionJournal::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<JournalClient>> JournalClient::Create(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: must not be empty");
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline: must be > 0");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // BeginRecord may return many actions
  args.SetMaxSendMessageSize(-1);     // the server enforces the limits
  auto channel = grpc::CreateCustomChannel(
      options.target, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<GrpcJournalClient>(options, std::move(channel));
}

}  // namespace actionjournal
