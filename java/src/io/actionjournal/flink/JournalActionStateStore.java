package io.actionjournal.flink;

import com.google.protobuf.ByteString;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalException;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendOutcome;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * Flink Agents' action state store on actionjournal, in its shape: {@code put}, {@code get},
 * {@code pruneState}, {@code rebuildState}, {@code getRecoveryMarker}. A thin class implementing
 * Flink Agents' {@code ActionStateStore} forwards to these, passing {@code action::getName} and
 * the event's serialized bytes.
 *
 * <p>(key, seqNum) is a journal record of this job; (event, action) is an action key, the
 * SHA-256 of the event's bytes and the action's name, so it is the same in every JVM. States are
 * bytes from the caller's serializer. Durable calls inside an action are journal steps: see
 * {@link #durableCall}.
 *
 * <p>The {@code attempt} fences zombies: pass a number that grows with every restart of the job
 * (Flink's attempt number, or the checkpoint id it restored from); writes of a lower attempt to a
 * record a higher one touched fail with FAILED_PRECONDITION ("fenced").
 */
public final class JournalActionStateStore {
  private final Journal client;
  private final String jobId;
  private final long attempt;
  private final KeyCodec keys;

  public JournalActionStateStore(Journal client, String jobId, long attempt, KeyCodec keys) {
    this.client = Objects.requireNonNull(client, "client");
    this.jobId = Objects.requireNonNull(jobId, "jobId");
    this.keys = Objects.requireNonNull(keys, "keys");
    if (attempt < 0) throw new IllegalArgumentException("attempt: must be >= 0");
    this.attempt = attempt;
  }

  /** Journals the action's final state for (key, seqNum). The first state stored wins. */
  public void put(Object key, long seqNum, AgentAction action, AgentEvent event, byte[] state) {
    Objects.requireNonNull(state, "state");
    AppendActionResponse r =
        client.appendAction(
            AppendActionRequest.newBuilder()
                .setRecord(record(key, seqNum))
                .setActionKey(actionKey(event, action))
                .setAttempt(attempt)
                .setCompletion(
                    io.actionjournal.v1.Completion.newBuilder().setState(ByteString.copyFrom(state)))
                .build());
    if (r.getOutcome() == AppendOutcome.APPEND_OUTCOME_CONFLICT) {
      throw new JournalException(
          9, "action " + action.name() + " already completed with another state");
    }
  }

  /** The state journaled for the action, or null when it has not completed: run it. */
  public byte[] get(Object key, long seqNum, AgentAction action, AgentEvent event) {
    LookupActionResponse r =
        client.lookupAction(
            LookupActionRequest.newBuilder()
                .setRecord(record(key, seqNum))
                .setActionKey(actionKey(event, action))
                .build());
    if (!r.getFound() || !r.getAction().hasCompletion()) return null;
    return r.getAction().getCompletion().getState().toByteArray();
  }

  /**
   * Drops everything journaled for {@code key} up to and including {@code seqNum}: call it once
   * a checkpoint covering those records completed (notifyCheckpointComplete).
   */
  public void pruneState(Object key, long seqNum) {
    Objects.requireNonNull(key, "key");
    client.prune(
        PruneRequest.newBuilder()
            .setJobId(jobId)
            .addKeys(
                PruneRequest.KeyUpTo.newBuilder()
                    .setRecordKey(ByteString.copyFrom(keys.encode(key)))
                    .setUpToSeqNum(seqNum))
            .build());
  }

  /**
   * After a restore. The journal is durable on its own, so nothing is reloaded: the markers only
   * have to be this store's (a marker of another job means a misconfigured restore).
   */
  public void rebuildState(List<Object> recoveryMarkers) {
    Objects.requireNonNull(recoveryMarkers, "recoveryMarkers");
    for (Object marker : recoveryMarkers) {
      if (marker != null && !String.valueOf(marker).startsWith(markerPrefix())) {
        throw new IllegalStateException("recovery marker " + marker + " is not of job " + jobId);
      }
    }
  }

  /** What a checkpoint keeps for {@link #rebuildState}: the job and the attempt writing now. */
  public Object getRecoveryMarker() {
    return markerPrefix() + attempt;
  }

  /**
   * A durable call inside an action (an LLM or tool call): journals the intent (PENDING) before
   * running {@code call}, and its result after. When the journal already holds a finished call at
   * this index, its stored result comes back and {@code call} does not run. A call that throws is
   * journaled FAILED (its message) and the exception goes on.
   *
   * @param index the call's position within the action: 0, 1, 2, ...
   * @param functionId what is called ("llm.chat", "mcp.search")
   * @param args the call's arguments as bytes; their digest identifies the call
   */
  public byte[] durableCall(
      Object key,
      long seqNum,
      AgentAction action,
      AgentEvent event,
      int index,
      String functionId,
      byte[] args,
      Callable<byte[]> call)
      throws Exception {
    Objects.requireNonNull(functionId, "functionId");
    Objects.requireNonNull(args, "args");
    Objects.requireNonNull(call, "call");
    if (index < 0) throw new IllegalArgumentException("index: must be >= 0");
    Step.Builder step =
        Step.newBuilder()
            .setIndex(index)
            .setFunctionId(functionId)
            .setArgsDigest(ByteString.copyFrom(sha256(args)));
    AppendActionRequest.Builder request =
        AppendActionRequest.newBuilder()
            .setRecord(record(key, seqNum))
            .setActionKey(actionKey(event, action))
            .setAttempt(attempt);
    AppendActionResponse intent =
        client.appendAction(
            request.setStep(step.clone().setStatus(StepStatus.STEP_STATUS_PENDING)).build());
    Step stored = intent.getStoredStep();
    if (intent.getOutcome() == AppendOutcome.APPEND_OUTCOME_CONFLICT) {
      throw new JournalException(
          9, "call " + index + " of action " + action.name() + " is journaled as "
              + stored.getFunctionId() + " with other arguments; the action is not deterministic");
    }
    if (stored.getStatus() == StepStatus.STEP_STATUS_SUCCEEDED) return replay(stored, functionId);
    if (stored.getStatus() == StepStatus.STEP_STATUS_FAILED) {
      throw new JournalException(
          9, functionId + " failed when it ran: " + stored.getError().toStringUtf8());
    }
    byte[] result;
    try {
      result = call.call();
    } catch (Exception e) {
      client.appendAction(
          request
              .setStep(
                  step.clone()
                      .setStatus(StepStatus.STEP_STATUS_FAILED)
                      .setError(ByteString.copyFromUtf8(String.valueOf(e.getMessage()))))
              .build());
      throw e;
    }
    AppendActionResponse done =
        client.appendAction(
            request
                .setStep(
                    step.clone()
                        .setStatus(StepStatus.STEP_STATUS_SUCCEEDED)
                        .setResult(ByteString.copyFrom(Objects.requireNonNull(result, "result"))))
                .build());
    // Another writer may have finished the same call first: its result wins.
    return done.getStoredStep().getResult().toByteArray();
  }

  /** The action key of (event, action): hex SHA-256 of the event's bytes, 0, the name. */
  public static String actionKey(AgentEvent event, AgentAction action) {
    Objects.requireNonNull(event, "event");
    Objects.requireNonNull(action, "action");
    byte[] content = Objects.requireNonNull(event.content(), "event.content()");
    byte[] name = Objects.requireNonNull(action.name(), "action.name()").getBytes(StandardCharsets.UTF_8);
    byte[] both = new byte[content.length + 1 + name.length];
    System.arraycopy(content, 0, both, 0, content.length);
    System.arraycopy(name, 0, both, content.length + 1, name.length);
    byte[] digest = sha256(both);
    StringBuilder hex = new StringBuilder(64);
    for (byte b : digest) {
      hex.append(Character.forDigit((b >> 4) & 15, 16)).append(Character.forDigit(b & 15, 16));
    }
    return hex.toString();
  }

  private RecordId record(Object key, long seqNum) {
    Objects.requireNonNull(key, "key");
    byte[] k = Objects.requireNonNull(keys.encode(key), "encoded key");
    return RecordId.newBuilder()
        .setJobId(jobId)
        .setRecordKey(ByteString.copyFrom(k))
        .setSeqNum(seqNum)
        .build();
  }

  private String markerPrefix() {
    return "actionjournal:" + jobId + ":";
  }

  private static byte[] replay(Step stored, String functionId) {
    if (!stored.getFunctionId().equals(functionId)) {
      throw new JournalException(
          9, "journaled call " + stored.getFunctionId() + " is not " + functionId);
    }
    return stored.getResult().toByteArray();
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
