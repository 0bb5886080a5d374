package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.JournalCalls;

/** One thing a replay found in one record: where the new code and the journal part. */
public final class Finding {
  /** What was found. */
  public enum Kind {
    /** A durable call is not the journaled one at its index (function id or argument digest). */
    CALL_DIFFERS(true),
    /** A completed action now makes a durable call after the last one its journal holds. */
    EXTRA_CALL(true),
    /** A completed action ends with other output events or memory updates than journaled. */
    OUTPUT_DIFFERS(true),
    /** An action the journal holds was not run by the new code for this record. */
    ACTION_NOT_REACHED(true),
    /** The new code cannot read the action's journaled state (its serializer changed). */
    STATE_UNREADABLE(true),
    /** The new code failed on the journaled answers (an exception of its own). */
    ACTION_FAILED(true),
    /** An action with no completion in the journal would make this call: it would run. */
    WOULD_RUN_CALL(false),
    /** An action the journal holds nothing for (a new action, or an input never reached). */
    WOULD_RUN_ACTION(false),
    /** Not replayed: no completed action in the journal carries the record's input. */
    NO_INPUT(false);

    /** True when the new code contradicts the journal; false when it only goes beyond it. */
    public final boolean divergent;

    Kind(boolean divergent) {
      this.divergent = divergent;
    }
  }

  public final Kind kind;
  public final String action;
  /** The durable call's index in the action; -1 when the finding is not about one call. */
  public final int index;
  public final String journaledFunctionId;
  public final String journaledArgsDigest;
  public final String functionId;
  public final String argsDigest;
  public final String detail;

  Finding(
      Kind kind,
      String action,
      int index,
      String journaledFunctionId,
      String journaledArgsDigest,
      String functionId,
      String argsDigest,
      String detail) {
    this.kind = kind;
    this.action = action;
    this.index = index;
    this.journaledFunctionId = journaledFunctionId;
    this.journaledArgsDigest = journaledArgsDigest;
    this.functionId = functionId;
    this.argsDigest = argsDigest;
    this.detail = detail;
  }

  static Finding of(Kind kind, String action, String detail) {
    return new Finding(kind, action, -1, null, null, null, null, detail);
  }

  /** The function a group of findings is named by: the call's name (JournalCalls ids: name#digest). */
  public String function() {
    String f = journaledFunctionId != null ? journaledFunctionId : functionId;
    return f == null ? "-" : JournalCalls.nameOf(f);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(kind.name().toLowerCase(java.util.Locale.ROOT));
    s.append(": action ").append(action);
    if (index >= 0) s.append(", call ").append(index);
    if (journaledFunctionId != null || functionId != null) {
      s.append(": journal ").append(call(journaledFunctionId, journaledArgsDigest));
      s.append(", code ").append(call(functionId, argsDigest));
    }
    if (detail != null) s.append(" (").append(detail).append(')');
    return s.toString();
  }

  private static String call(String functionId, String argsDigest) {
    if (functionId == null) return "(none)";
    return argsDigest == null || argsDigest.isEmpty()
        ? functionId
        : functionId + " [" + argsDigest + "]";
  }
}
