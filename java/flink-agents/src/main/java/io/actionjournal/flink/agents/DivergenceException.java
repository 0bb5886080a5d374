package io.actionjournal.flink.agents;

/**
 * A replayed action's durable call is not the one its journal holds at that index, and the store
 * runs with {@code actionjournal.on-divergence=fail}: the action stops before the call runs, and
 * nothing journaled is dropped. Names the record, the action, the index and both calls. An {@link
 * Error}, so that an agent's {@code catch (Exception e)} around a durable call cannot swallow it
 * and go on: the operator fails the task on it.
 */
public final class DivergenceException extends Error {
  private static final long serialVersionUID = 1L;

  public final String jobId;
  public final String recordKey;
  public final long seqNum;
  public final String action;
  public final int index;
  public final String journaledFunctionId;
  public final String journaledArgsDigest;
  public final String functionId;
  public final String argsDigest;

  public DivergenceException(
      String jobId,
      String recordKey,
      long seqNum,
      String action,
      int index,
      String journaledFunctionId,
      String journaledArgsDigest,
      String functionId,
      String argsDigest) {
    super(
        "actionjournal: action " + action + " of record (job " + jobId + ", key " + recordKey
            + ", seq " + seqNum + ") diverged from its journal at durable call " + index
            + ": the journal holds " + journaledFunctionId + " (args digest \""
            + journaledArgsDigest + "\"), the code now calls " + functionId + " (args digest \""
            + argsDigest + "\"). With actionjournal.on-divergence=fail nothing was run and"
            + " nothing journaled was dropped. Deploy the code that wrote this journal; or, to"
            + " run the record's actions again, invalidate it (actionjournal-cli invalidate --job "
            + jobId + " --key '" + recordKey + "' --seq " + seqNum + " --force) or restore with"
            + " actionjournal.on-divergence=truncate.");
    this.jobId = jobId;
    this.recordKey = recordKey;
    this.seqNum = seqNum;
    this.action = action;
    this.index = index;
    this.journaledFunctionId = journaledFunctionId;
    this.journaledArgsDigest = journaledArgsDigest;
    this.functionId = functionId;
    this.argsDigest = argsDigest;
  }
}
