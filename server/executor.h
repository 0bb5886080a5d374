// A bounded pool of threads for blocking store work, so that gRPC's
// callback threads never block.
#ifndef ACTIONJOURNAL_SERVER_EXECUTOR_H_
#define ACTIONJOURNAL_SERVER_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace actionjournal {

// Thread-safe.
class Executor {
 public:
  // Starts `threads` workers; at most `queue_capacity` tasks wait.
  Executor(int threads, int queue_capacity);
  // Runs every queued task, then joins the workers.
  ~Executor();

  // Queues `task`; false (task dropped) when the queue is full or the
  // executor is shutting down.
  bool TrySchedule(std::function<void()> task);

  // Tasks waiting, not running.
  int QueueDepth();

 private:
  void Work();

  const int capacity_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_EXECUTOR_H_
