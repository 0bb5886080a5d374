// Waiting in tests for another thread or process, always with a deadline.
#ifndef ACTIONJOURNAL_TESTS_TESTING_EVENTUALLY_H_
#define ACTIONJOURNAL_TESTS_TESTING_EVENTUALLY_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace actionjournal::testing {

// Polls `condition` every `every` until it holds (true) or `within` has
// passed (false), so that a test that waits for something that never comes
// fails where it waited instead of hanging until the suite's timeout.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration within = absl::Seconds(30),
                absl::Duration every = absl::Milliseconds(2)) {
  const absl::Time deadline = absl::Now() + within;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(every);
  }
  return true;
}

}  // namespace actionjournal::testing

#endif  // ACTIONJOURNAL_TESTS_TESTING_EVENTUALLY_H_
