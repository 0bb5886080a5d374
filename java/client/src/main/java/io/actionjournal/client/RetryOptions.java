package io.actionjournal.client;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link GrpcJournalClient} retries, with the C++ client's defaults (client/journal_client.h):
 * 10 attempts, pauses from 50 ms doubling to 2 s with full jitter, a 30 s budget per call and a 10
 * s deadline per attempt. Immutable.
 */
public final class RetryOptions {
  /** Most attempts per call, the first included; 1 means no retry. */
  public final int maxAttempts;
  /** The first pause's upper bound; each later bound doubles, up to {@link #maxBackoff}. */
  public final Duration initialBackoff;

  public final Duration maxBackoff;
  /** No attempt starts, and none runs, past this long after the call began. */
  public final Duration budget;
  /** Each attempt's own deadline (shortened to what is left of the budget). */
  public final Duration attemptDeadline;

  public RetryOptions(
      int maxAttempts,
      Duration initialBackoff,
      Duration maxBackoff,
      Duration budget,
      Duration attemptDeadline) {
    if (maxAttempts < 1) throw new IllegalArgumentException("maxAttempts: must be >= 1");
    this.maxAttempts = maxAttempts;
    this.initialBackoff = positive(initialBackoff, "initialBackoff");
    this.maxBackoff = positive(maxBackoff, "maxBackoff");
    this.budget = positive(budget, "budget");
    this.attemptDeadline = positive(attemptDeadline, "attemptDeadline");
  }

  public static RetryOptions defaults() {
    return new RetryOptions(
        10,
        Duration.ofMillis(50),
        Duration.ofSeconds(2),
        Duration.ofSeconds(30),
        Duration.ofSeconds(10));
  }

  private static Duration positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + ": must be > 0");
    return d;
  }
}
