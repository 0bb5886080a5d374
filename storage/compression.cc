#include "storage/compression.h"

#include <zstd.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/observer.h"

namespace actionjournal {
namespace {

constexpr char kMarker[] =
    "\xff"
    "AJ";  // then the kind byte
constexpr size_t kHeader = 4;
constexpr char kRaw = 0;
constexpr char kZstd = 1;

std::string WithHeader(char kind, absl::string_view body) {
  std::string out(kMarker, 3);
  out += kind;
  out.append(body.data(), body.size());
  return out;
}

// The stored form of `payload` when it is not `payload` itself; nullopt
// (no copy) for the common case of a payload stored as sent.
std::optional<std::string> Encoded(absl::string_view payload,
                                   const CompressionOptions& options) {
  if (options.min_bytes > 0 &&
      payload.size() >= static_cast<size_t>(options.min_bytes)) {
    std::string out(kMarker, 3);
    out += kZstd;
    out.resize(kHeader + ZSTD_compressBound(payload.size()));
    const size_t n =
        ZSTD_compress(out.data() + kHeader, out.size() - kHeader,
                      payload.data(), payload.size(), options.level);
    // Kept only when it saves something: incompressible bytes stay as sent.
    if (!ZSTD_isError(n) && kHeader + n < payload.size()) {
      out.resize(kHeader + n);
      return out;
    }
  }
  if (!payload.empty() && payload[0] == kMarker[0]) {
    return WithHeader(kRaw, payload);
  }
  return std::nullopt;
}

// Whether `stored` may be in a form other than the payload itself.
bool MaybeEncoded(const std::string& stored) {
  return !stored.empty() && stored[0] == kMarker[0];
}

// Whether any payload of `snapshot` may be stored in another form.
bool AnyEncoded(const Snapshot& snapshot) {
  for (const auto& [id, rec] : snapshot) {
    for (const auto& [key, action] : rec.actions) {
      for (const Step& s : action.steps) {
        if (MaybeEncoded(s.result) || MaybeEncoded(s.error)) return true;
      }
      if (action.completion.has_value() &&
          MaybeEncoded(action.completion->state))
        return true;
    }
  }
  return false;
}

}  // namespace

std::string EncodePayload(absl::string_view payload,
                          const CompressionOptions& options) {
  std::optional<std::string> e = Encoded(payload, options);
  return e.has_value() ? *std::move(e) : std::string(payload);
}

absl::StatusOr<std::string> DecodePayload(absl::string_view stored) {
  if (stored.size() < kHeader ||
      stored.substr(0, 3) != absl::string_view(kMarker, 3)) {
    return std::string(stored);
  }
  const absl::string_view body = stored.substr(kHeader);
  if (stored[3] == kRaw) return std::string(body);
  if (stored[3] != kZstd) return std::string(stored);
  const unsigned long long size =
      ZSTD_getFrameContentSize(body.data(), body.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return absl::DataLossError("stored payload: not a whole zstd frame");
  }
  std::string out(size, '\0');
  const size_t n =
      ZSTD_decompress(out.data(), out.size(), body.data(), body.size());
  if (ZSTD_isError(n) || n != size) {
    return absl::DataLossError(
        absl::StrCat("stored payload does not decompress: ",
                     ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  }
  return out;
}

namespace {

absl::Status Decode(std::string* payload) {
  if (!MaybeEncoded(*payload)) return absl::OkStatus();
  ASSIGN_OR_RETURN(*payload, DecodePayload(*payload));
  return absl::OkStatus();
}

absl::Status Decode(Snapshot& snapshot) {
  for (auto& [id, rec] : snapshot) {
    for (auto& [key, action] : rec.actions) {
      for (Step& s : action.steps) {
        RETURN_IF_ERROR(Decode(&s.result));
        RETURN_IF_ERROR(Decode(&s.error));
      }
      if (action.completion.has_value()) {
        RETURN_IF_ERROR(Decode(&action.completion->state));
      }
    }
  }
  return absl::OkStatus();
}

// Thread-safe as the backend it decorates is.
class CompressingBackend final : public ForwardingBackend {
 public:
  CompressingBackend(std::unique_ptr<Backend> inner, CompressionOptions options,
                     JournalObserver* observer)
      : ForwardingBackend(std::move(inner)),
        options_(options),
        observer_(observer) {}

  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    ASSIGN_OR_RETURN(Snapshot s, inner().Read(reads));
    RETURN_IF_ERROR(Decode(s));
    return s;
  }

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    absl::Status decoded;
    absl::Status s = inner().Write(
        reads,
        [&](const Snapshot& stored) {
          WriteSet w;
          if (!AnyEncoded(stored)) {
            w = decide(stored);
          } else {
            Snapshot snapshot = stored;
            decoded = Decode(snapshot);
            if (!decoded.ok()) return WriteSet{};  // writes nothing
            w = decide(snapshot);
          }
          for (auto& step : w.steps) {
            Encode(&step.step.result);
            Encode(&step.step.error);
          }
          for (auto& c : w.completions) Encode(&c.completion.state);
          return w;
        },
        deadline);
    return decoded.ok() ? s : decoded;
  }

 private:
  void Encode(std::string* payload) {
    const size_t sent = payload->size();
    if (sent == 0) return;  // a PENDING step's, or a step's other half
    std::optional<std::string> e = Encoded(*payload, options_);
    if (e.has_value()) *payload = *std::move(e);
    if (observer_ != nullptr) observer_->OnPayload(sent, payload->size());
  }

  const CompressionOptions options_;
  JournalObserver* const observer_;
};

}  // namespace

std::unique_ptr<Backend> WithCompression(std::unique_ptr<Backend> inner,
                                         CompressionOptions options,
                                         JournalObserver* observer) {
  return std::make_unique<CompressingBackend>(std::move(inner), options,
                                              observer);
}

}  // namespace actionjournal
