package io.actionjournal.client;

import com.google.protobuf.InvalidProtocolBufferException;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.CompleteRecordRequest;
import io.actionjournal.v1.CompleteRecordResponse;
import io.actionjournal.v1.IssueAttemptRequest;
import io.actionjournal.v1.IssueAttemptResponse;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.PruneResponse;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The journal's calls from the JVM, through the C++ client (JNI): deadlines, retries with
 * backoff, BeginRecord pages and left-out payloads are the C++ client's. Thread-safe; share one per JVM (or per
 * TaskManager). Every failure is a {@link JournalException} with the gRPC code.
 */
public final class JniJournalClient implements Journal {
  // Calls share the native client; close waits for them.
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private long handle;

  /** Defaults: a 10 s deadline per attempt, 10 attempts within 30 s. */
  public JniJournalClient(String target) {
    this(target, Duration.ofSeconds(10), 10, Duration.ofSeconds(30));
  }

  /**
   * @param target "127.0.0.1:7450" (sidecar), "unix:///run/aj.sock", "dns:///journal:7450"
   * @param deadline each attempt's deadline
   * @param maxAttempts 1 = no retries
   * @param budget no attempt runs past this long after a call began
   */
  public JniJournalClient(String target, Duration deadline, int maxAttempts, Duration budget) {
    this(target, deadline, maxAttempts, budget, ClientSecurity.NONE);
  }

  /**
   * With TLS, mutual TLS and a bearer token as {@code security} says (the C++ client's
   * ClientOptions: files re-read when they change). A file that cannot be read is a
   * JournalException INVALID_ARGUMENT naming the setting.
   */
  public JniJournalClient(
      String target, Duration deadline, int maxAttempts, Duration budget, ClientSecurity security) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(budget, "budget");
    Objects.requireNonNull(security, "security").check();
    handle =
        NativeJournal.open(
            target,
            deadline.toMillis(),
            maxAttempts,
            budget.toMillis(),
            security.caFile(),
            security.certFile(),
            security.keyFile(),
            security.tokenFile());
  }

  @Override
  public BeginRecordResponse beginRecord(BeginRecordRequest request) {
    return parse(call(NativeJournal.BEGIN, request), BeginRecordResponse.parser());
  }

  @Override
  public AppendActionResponse appendAction(AppendActionRequest request) {
    AppendActionResponse r =
        parse(call(NativeJournal.APPEND, request), AppendActionResponse.parser());
    // The server leaves `stored` unset when it equals the request's entry; callers always see it.
    if (r.getStoredCase() != AppendActionResponse.StoredCase.STORED_NOT_SET) return r;
    if (request.hasStep()) return r.toBuilder().setStoredStep(request.getStep()).build();
    if (request.hasCompletion()) {
      return r.toBuilder().setStoredCompletion(request.getCompletion()).build();
    }
    return r;
  }

  @Override
  public LookupActionResponse lookupAction(LookupActionRequest request) {
    return parse(call(NativeJournal.LOOKUP, request), LookupActionResponse.parser());
  }

  @Override
  public CompleteRecordResponse completeRecord(CompleteRecordRequest request) {
    return parse(call(NativeJournal.COMPLETE, request), CompleteRecordResponse.parser());
  }

  @Override
  public PruneResponse prune(PruneRequest request) {
    return parse(call(NativeJournal.PRUNE, request), PruneResponse.parser());
  }

  @Override
  public IssueAttemptResponse issueAttempt(IssueAttemptRequest request) {
    return parse(call(NativeJournal.ISSUE_ATTEMPT, request), IssueAttemptResponse.parser());
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (handle != 0) {
        NativeJournal.close(handle);
        handle = 0;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private byte[] call(int method, com.google.protobuf.MessageLite request) {
    Objects.requireNonNull(request, "request");
    byte[] bytes = request.toByteArray();
    lock.readLock().lock();
    try {
      // A closed client (handle 0) is FAILED_PRECONDITION from the native side.
      return NativeJournal.call(handle, method, bytes);
    } finally {
      lock.readLock().unlock();
    }
  }

  private static <T> T parse(byte[] bytes, com.google.protobuf.Parser<T> parser) {
    try {
      return parser.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new JournalException(13, "response: " + e.getMessage());
    }
  }
}
