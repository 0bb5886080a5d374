// Builders of API requests shared by the end-to-end tests.
#ifndef ACTIONJOURNAL_TESTS_TESTING_REQUESTS_H_
#define ACTIONJOURNAL_TESTS_TESTING_REQUESTS_H_

#include <cstdint>
#include <string>

#include "actionjournal/v1/journal.pb.h"

namespace actionjournal::testing {

inline v1::RecordId Rec(const std::string& job, const std::string& key,
                        int64_t seq) {
  v1::RecordId r;
  r.set_job_id(job);
  r.set_record_key(key);
  r.set_seq_num(seq);
  return r;
}

// Step `index` of `action`: a call of "llm.chat" with digest "digest".
inline v1::AppendActionRequest StepReq(const v1::RecordId& r,
                                       const std::string& action,
                                       uint32_t index, v1::StepStatus status,
                                       const std::string& result = "") {
  v1::AppendActionRequest req;
  *req.mutable_record() = r;
  req.set_action_key(action);
  v1::Step* s = req.mutable_step();
  s->set_index(index);
  s->set_function_id("llm.chat");
  s->set_args_digest("digest");
  s->set_status(status);
  s->set_result(result);
  return req;
}

inline v1::AppendActionRequest CompletionReq(const v1::RecordId& r,
                                             const std::string& action,
                                             const std::string& state) {
  v1::AppendActionRequest req;
  *req.mutable_record() = r;
  req.set_action_key(action);
  req.mutable_completion()->set_state(state);
  return req;
}

}  // namespace actionjournal::testing

#endif  // ACTIONJOURNAL_TESTS_TESTING_REQUESTS_H_
