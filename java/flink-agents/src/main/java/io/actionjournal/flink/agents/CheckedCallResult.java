package io.actionjournal.flink.agents;

import java.util.Objects;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * A journaled durable call handed to Flink Agents' runtime with a check on it. The runtime asks
 * each journaled call whether it {@link #matches} the call the action makes now, before that call
 * runs (RunnerContextImpl in 0.3.1: {@code matchNextOrClearSubsequentCallResult} for a
 * completion-only call, {@code durableExecuteWithReconcile} for one with a reconciler); where the
 * runtime would then drop the journaled calls and run the new one, this one first tells its {@link
 * Mismatch}, which may throw to stop the action before anything runs or is dropped (strict mode,
 * and the replayer's verify mode).
 *
 * <p>Only ever in the states a store hands to the runtime: a store serializes plain {@link
 * CallResult}s ({@link #plain}).
 */
public final class CheckedCallResult extends CallResult {
  /** Told when the call at {@code index} is not the journaled one; may throw to stop the action. */
  public interface Mismatch {
    /**
     * {@code journaled} is null when the journal holds no call at {@code index} (only asked for by
     * {@link #end}).
     */
    void at(int index, CallResult journaled, String functionId, String argsDigest);
  }

  private final int index;
  private final CallResult journaled;
  private final Mismatch mismatch;

  private CheckedCallResult(int index, CallResult journaled, Mismatch mismatch) {
    super(
        journaled == null ? null : journaled.getFunctionId(),
        journaled == null ? null : journaled.getArgsDigest(),
        journaled == null ? null : journaled.getResultPayload(),
        journaled == null ? null : journaled.getExceptionPayload());
    this.index = index;
    this.journaled = journaled;
    this.mismatch = Objects.requireNonNull(mismatch, "mismatch");
  }

  /** The journaled call at {@code index}, checked. */
  public static CheckedCallResult of(int index, CallResult journaled, Mismatch mismatch) {
    return new CheckedCallResult(index, Objects.requireNonNull(journaled, "journaled"), mismatch);
  }

  /**
   * A slot after the last journaled call ({@code index} = their count) that matches no call: the
   * first call the action makes beyond the journal goes to {@code mismatch} with a null journaled
   * call instead of running (the replayer's "would run").
   */
  public static CheckedCallResult end(int index, Mismatch mismatch) {
    return new CheckedCallResult(index, null, mismatch);
  }

  /** {@code c} as a plain CallResult (what a store serializes). */
  public static CallResult plain(CallResult c) {
    if (c instanceof CheckedCallResult) {
      CallResult j = ((CheckedCallResult) c).journaled;
      if (j == null) throw new IllegalStateException("the end of a journal is not a call");
      return j;
    }
    return c;
  }

  @Override
  public boolean matches(String functionId, String argsDigest) {
    if (journaled != null && journaled.matches(functionId, argsDigest)) return true;
    mismatch.at(index, journaled, functionId, argsDigest);
    return false;
  }

  // The status is the journaled call's (CallResult has no constructor for a PENDING subclass).
  @Override
  public boolean isSuccess() {
    return journaled != null && journaled.isSuccess();
  }

  @Override
  public boolean isFailure() {
    return journaled != null && journaled.isFailure();
  }

  @Override
  public boolean isPending() {
    return journaled == null || journaled.isPending();
  }
}
