// The channel a ClientOptions asks for: plaintext or TLS (mutual TLS with a
// client certificate), and the bearer token on every call. Shared by the
// client library and the CLI.
#ifndef ACTIONJOURNAL_CLIENT_CHANNEL_H_
#define ACTIONJOURNAL_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "client/journal_client.h"

namespace actionjournal {

// A channel to options.target with `args`. INVALID_ARGUMENT naming the
// option when a TLS file or the token file cannot be read, a certificate
// comes without its key, or the token is not one line of visible ASCII
// (the message never quotes the token).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateJournalChannel(
    const ClientOptions& options, const grpc::ChannelArguments& args);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_CLIENT_CHANNEL_H_
