// The JNI side of io.actionjournal.client.NativeJournal: requests and
// responses cross as serialized protobuf messages; every failure becomes an
// io.actionjournal.client.JournalException carrying the gRPC code, never a
// crash of the JVM.
#include <jni.h>

#include <exception>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/journal_client.h"

namespace actionjournal {
namespace {

// Must match NativeJournal's method numbers.
enum Method {
  kBegin = 0,
  kAppend = 1,
  kLookup = 2,
  kComplete = 3,
  kPrune = 4,
  kIssueAttempt = 5
};

void Throw(JNIEnv* env, absl::StatusCode code, const std::string& message) {
  if (env->ExceptionCheck()) return;  // one pending exception is enough
  jclass cls = env->FindClass("io/actionjournal/client/JournalException");
  if (cls == nullptr) return;  // NoClassDefFoundError is pending
  jmethodID ctor = env->GetMethodID(cls, "<init>", "(ILjava/lang/String;)V");
  if (ctor == nullptr) return;
  jstring msg = env->NewStringUTF(message.c_str());
  jobject ex = env->NewObject(cls, ctor, static_cast<jint>(code), msg);
  if (ex != nullptr) env->Throw(static_cast<jthrowable>(ex));
}

void Throw(JNIEnv* env, const absl::Status& s) {
  Throw(env, s.code(), std::string(s.message()));
}

// `s` as UTF-8 into `out` ("" for null); false when the JVM is out of
// memory (an exception is pending).
bool ReadString(JNIEnv* env, jstring s, std::string* out) {
  out->clear();
  if (s == nullptr) return true;
  const char* chars = env->GetStringUTFChars(s, nullptr);
  if (chars == nullptr) return false;
  *out = chars;
  env->ReleaseStringUTFChars(s, chars);
  return true;
}

template <typename Req, typename Resp>
jbyteArray Call(JNIEnv* env, const std::string& bytes,
                absl::StatusOr<Resp> (JournalClient::*method)(const Req&),
                JournalClient& client) {
  Req request;
  if (!request.ParseFromString(bytes)) {
    Throw(env, absl::StatusCode::kInvalidArgument,
          "request: not a valid message");
    return nullptr;
  }
  absl::StatusOr<Resp> response = (client.*method)(request);
  if (!response.ok()) {
    Throw(env, response.status());
    return nullptr;
  }
  const std::string out = response->SerializeAsString();
  jbyteArray result = env->NewByteArray(static_cast<jsize>(out.size()));
  if (result == nullptr) return nullptr;  // OutOfMemoryError is pending
  env->SetByteArrayRegion(result, 0, static_cast<jsize>(out.size()),
                          reinterpret_cast<const jbyte*>(out.data()));
  return result;
}

}  // namespace
}  // namespace actionjournal

extern "C" {

JNIEXPORT jlong JNICALL Java_io_actionjournal_client_NativeJournal_open(
    JNIEnv* env, jclass, jstring target, jlong deadline_ms, jint max_attempts,
    jlong budget_ms, jstring tls_ca_file, jstring tls_cert_file,
    jstring tls_key_file, jstring token_file) {
  using namespace actionjournal;
  if (target == nullptr) {
    Throw(env, absl::StatusCode::kInvalidArgument, "target: must not be null");
    return 0;
  }
  ClientOptions options;
  if (!ReadString(env, target, &options.target) ||
      !ReadString(env, tls_ca_file, &options.tls_ca_file) ||
      !ReadString(env, tls_cert_file, &options.tls_cert_file) ||
      !ReadString(env, tls_key_file, &options.tls_key_file) ||
      !ReadString(env, token_file, &options.token_file)) {
    return 0;  // OutOfMemoryError is pending
  }
  options.deadline = absl::Milliseconds(deadline_ms);
  options.retry.max_attempts = max_attempts;
  options.retry.budget = absl::Milliseconds(budget_ms);
  try {
    absl::StatusOr<std::unique_ptr<JournalClient>> client =
        JournalClient::Create(options);
    if (!client.ok()) {
      Throw(env, client.status());
      return 0;
    }
    return reinterpret_cast<jlong>(client->release());
  } catch (const std::exception& e) {
    Throw(env, absl::StatusCode::kInternal, e.what());
    return 0;
  }
}

JNIEXPORT void JNICALL Java_io_actionjournal_client_NativeJournal_close(
    JNIEnv*, jclass, jlong handle) {
  delete reinterpret_cast<actionjournal::JournalClient*>(handle);
}

JNIEXPORT jbyteArray JNICALL Java_io_actionjournal_client_NativeJournal_call(
    JNIEnv* env, jclass, jlong handle, jint method, jbyteArray request) {
  using namespace actionjournal;
  if (handle == 0) {
    Throw(env, absl::StatusCode::kFailedPrecondition, "the client is closed");
    return nullptr;
  }
  if (request == nullptr) {
    Throw(env, absl::StatusCode::kInvalidArgument, "request: must not be null");
    return nullptr;
  }
  std::string bytes(static_cast<size_t>(env->GetArrayLength(request)), '\0');
  env->GetByteArrayRegion(request, 0, static_cast<jsize>(bytes.size()),
                          reinterpret_cast<jbyte*>(bytes.data()));
  JournalClient& client = *reinterpret_cast<JournalClient*>(handle);
  try {
    switch (method) {
      case kBegin:
        return Call(env, bytes, &JournalClient::BeginRecord, client);
      case kAppend:
        return Call(env, bytes, &JournalClient::AppendAction, client);
      case kLookup:
        return Call(env, bytes, &JournalClient::LookupAction, client);
      case kComplete:
        return Call(env, bytes, &JournalClient::CompleteRecord, client);
      case kPrune:
        return Call(env, bytes, &JournalClient::Prune, client);
      case kIssueAttempt:
        return Call(env, bytes, &JournalClient::IssueAttempt, client);
    }
    Throw(env, absl::StatusCode::kInvalidArgument, "method: unknown");
  } catch (const std::exception& e) {
    Throw(env, absl::StatusCode::kInternal, e.what());
  }
  return nullptr;
}

}  // extern "C"
