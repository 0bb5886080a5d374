package io.actionjournal.client;

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

/**
 * The journal's calls, whichever way the JVM reaches the server: {@link GrpcJournalClient}
 * (pure Java, for the sidecar) or {@link JniJournalClient} (the C++ client through JNI).
 *
 * <p>Answers are complete whatever the server left out on the wire: {@code AppendActionResponse}
 * always carries the stored entry (filled from the request when the server omitted it because it
 * equals the request's), BeginRecord's pages are concatenated, and payloads the server left out
 * ({@code omitted_bytes}) are read back and filled in. Every failure is a {@link
 * JournalException} carrying the gRPC code. Implementations are thread-safe.
 */
public interface Journal extends AutoCloseable {
  BeginRecordResponse beginRecord(BeginRecordRequest request);

  AppendActionResponse appendAction(AppendActionRequest request);

  LookupActionResponse lookupAction(LookupActionRequest request);

  CompleteRecordResponse completeRecord(CompleteRecordRequest request);

  PruneResponse prune(PruneRequest request);

  /** A fresh attempt for the job, above every one issued or stored before (DESIGN 3). */
  IssueAttemptResponse issueAttempt(IssueAttemptRequest request);

  /** Releases the connection; later calls fail with FAILED_PRECONDITION. */
  @Override
  void close();
}
