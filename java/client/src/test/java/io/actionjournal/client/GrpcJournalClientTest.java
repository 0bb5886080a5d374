package io.actionjournal.client;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.ActionJournalGrpc;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendActionsRequest;
import io.actionjournal.v1.AppendActionsResponse;
import io.actionjournal.v1.AppendOutcome;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.ReadPayloadRequest;
import io.actionjournal.v1.ReadPayloadResponse;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * GrpcJournalClient against a scripted in-process server that answers what today's server only
 * does with large payloads or a full queue: the retry rule (retry-after trailers, RESOURCE_EXHAUSTED
 * without them, DEADLINE_EXCEEDED of writes and of reads, UNAVAILABLE within the budget), `stored`
 * left unset, BeginRecord pages and payloads left out (ReadPayload in chunks); a server without
 * AppendActions (one call per append); and, against one with it, appends coalesced from many
 * threads, each with its own answer and retries.
 */
final class GrpcJournalClientTest {
  private static final int CHUNK = 1 << 20;
  private static final int BIG = (4 << 20) + 7;
  private static final Metadata.Key<String> RETRY_AFTER =
      Metadata.Key.of("actionjournal-retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);

  /** Scripted answers, by action key; counts calls per key. */
  static final class Fake extends ActionJournalGrpc.ActionJournalImplBase {
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    final AtomicInteger reads = new AtomicInteger();

    int count(String key) {
      return calls.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void appendAction(AppendActionRequest r, StreamObserver<AppendActionResponse> out) {
      int n = count(r.getActionKey());
      switch (r.getActionKey()) {
        case "retry-after":
          if (n == 1) {
            Metadata t = new Metadata();
            t.put(RETRY_AFTER, "30");
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription("queue full").asRuntimeException(t));
            return;
          }
          break;
        case "aborted-retry-after":
          if (n == 1) {
            Metadata t = new Metadata();
            t.put(RETRY_AFTER, "1");
            out.onError(Status.ABORTED.withDescription("busy").asRuntimeException(t));
            return;
          }
          break;
        case "over-limit":
          out.onError(Status.RESOURCE_EXHAUSTED.withDescription("state: 5000000 bytes, limit 4194304").asRuntimeException());
          return;
        case "unavailable":
          if (n <= 2) {
            out.onError(Status.UNAVAILABLE.withDescription("store away").asRuntimeException());
            return;
          }
          break;
        case "always-unavailable":
          out.onError(Status.UNAVAILABLE.withDescription("store away").asRuntimeException());
          return;
        case "deadline":
          if (n == 1) {
            out.onError(Status.DEADLINE_EXCEEDED.withDescription("slow").asRuntimeException());
            return;
          }
          break;
        case "conflict-omitted":
          out.onNext(
              AppendActionResponse.newBuilder()
                  .setOutcome(AppendOutcome.APPEND_OUTCOME_CONFLICT)
                  .setStoredStep(
                      Step.newBuilder().setIndex(0).setFunctionId("llm.chat")
                          .setStatus(StepStatus.STEP_STATUS_SUCCEEDED).setOmittedBytes(BIG))
                  .build());
          out.onCompleted();
          return;
        default:
          break;
      }
      out.onNext(AppendActionResponse.newBuilder().setOutcome(AppendOutcome.APPEND_OUTCOME_APPENDED).build());
      out.onCompleted();
    }

    @Override
    public void lookupAction(LookupActionRequest r, StreamObserver<LookupActionResponse> out) {
      count("lookup:" + r.getActionKey());
      if (r.getActionKey().equals("deadline")) {
        out.onError(Status.DEADLINE_EXCEEDED.withDescription("slow").asRuntimeException());
        return;
      }
      out.onNext(
          LookupActionResponse.newBuilder()
              .setFound(true)
              .setAction(
                  ActionEntries.newBuilder()
                      .setActionKey(r.getActionKey())
                      .addSteps(Step.newBuilder().setIndex(0).setFunctionId("tool")
                          .setStatus(StepStatus.STEP_STATUS_FAILED).setOmittedBytes(BIG)))
              .build());
      out.onCompleted();
    }

    @Override
    public void beginRecord(BeginRecordRequest r, StreamObserver<BeginRecordResponse> out) {
      BeginRecordResponse.Builder b = BeginRecordResponse.newBuilder();
      if (r.getPageToken().isEmpty()) {
        b.addActions(ActionEntries.newBuilder().setActionKey("a"))
            .addActions(ActionEntries.newBuilder().setActionKey("b"))
            .setNextPageToken(ByteString.copyFromUtf8("page2"));
      } else if (r.getPageToken().toStringUtf8().equals("page2")) {
        b.addActions(ActionEntries.newBuilder().setActionKey("c")
            .setCompletion(Completion.newBuilder().setOmittedBytes(BIG)));
      } else {
        out.onError(Status.INVALID_ARGUMENT.withDescription("page_token").asRuntimeException());
        return;
      }
      out.onNext(b.build());
      out.onCompleted();
    }

    @Override
    public void readPayload(ReadPayloadRequest r, StreamObserver<ReadPayloadResponse> out) {
      reads.incrementAndGet();
      int from = (int) r.getOffset();
      int n = Math.min(CHUNK, BIG - from);
      byte[] data = new byte[n];
      for (int i = 0; i < n; i++) data[i] = at(r, from + i);
      out.onNext(ReadPayloadResponse.newBuilder().setData(ByteString.copyFrom(data)).setTotalBytes(BIG).build());
      out.onCompleted();
    }
  }

  /**
   * AppendActions only, answering each item by its action key's script: "once-unavailable" fails
   * its first attempt retryably, "bad" is refused (not retryable), "marked" is refused with the
   * retry mark once; the first call of all fails UNAVAILABLE as a whole. Each call sleeps 5 ms, so
   * appends from other threads gather meanwhile. Counts calls and items.
   */
  static final class BatchFake extends ActionJournalGrpc.ActionJournalImplBase {
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger items = new AtomicInteger();
    final AtomicInteger largest = new AtomicInteger();
    final Map<String, AtomicInteger> tries = new ConcurrentHashMap<>();

    @Override
    public void appendActions(AppendActionsRequest r, StreamObserver<AppendActionsResponse> out) {
      int call = calls.incrementAndGet();
      items.addAndGet(r.getItemsCount());
      largest.accumulateAndGet(r.getItemsCount(), Math::max);
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (call == 1) {
        out.onError(Status.UNAVAILABLE.withDescription("starting").asRuntimeException());
        return;
      }
      AppendActionsResponse.Builder b = AppendActionsResponse.newBuilder();
      for (AppendActionRequest item : r.getItemsList()) {
        String key = item.getActionKey();
        int n = tries.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        AppendActionsResponse.Item.Builder answer = AppendActionsResponse.Item.newBuilder();
        if (key.equals("once-unavailable") && n == 1) {
          answer.setCode(14).setMessage("store away").setRetryable(true);
        } else if (key.equals("bad")) {
          answer.setCode(3).setMessage("action_key: bad");
        } else if (key.equals("marked") && n == 1) {
          answer.setCode(8).setMessage("queue full").setRetryable(true);
        } else {
          answer.setResponse(
              AppendActionResponse.newBuilder().setOutcome(AppendOutcome.APPEND_OUTCOME_APPENDED));
        }
        b.addItems(answer);
      }
      out.onNext(b.build());
      out.onCompleted();
    }
  }

  /** Appends from many threads travel coalesced; each keeps its own answer and retries. */
  @Test
  void appendsFromManyThreadsTravelCoalescedEachWithItsOwnAnswer() throws Exception {
    RetryOptions fast = fastRetries();
    BatchFake fake = new BatchFake();
    String name = InProcessServerBuilder.generateName();
    Server server = InProcessServerBuilder.forName(name).addService(fake).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    GrpcJournalClient client = new GrpcJournalClient(channel, fast);
    RecordId record = RecordId.newBuilder().setJobId("j").setRecordKey(ByteString.copyFromUtf8("k")).build();
    int threads = 16, each = 40;
    ConcurrentHashMap<String, Step> answered = new ConcurrentHashMap<>();
    AtomicInteger failures = new AtomicInteger();
    List<Thread> writers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      writers.add(new Thread(() -> {
        for (int i = 0; i < each; i++) {
          String key = "t" + id + "-" + i;
          Step step = Step.newBuilder().setIndex(0).setFunctionId(key).setStatus(StepStatus.STEP_STATUS_PENDING).build();
          try {
            answered.put(key, client.appendAction(append(record, key, step)).getStoredStep());
          } catch (JournalException e) {
            failures.incrementAndGet();
          }
        }
      }));
    }
    for (Thread w : writers) w.start();
    for (Thread w : writers) w.join();
    int total = threads * each;
    check(failures.get() == 0 && answered.size() == total, "every coalesced append answered (" + answered.size() + " of " + total + ")");
    boolean own = true;
    for (Map.Entry<String, Step> e : answered.entrySet()) own &= e.getValue().getFunctionId().equals(e.getKey());
    check(own, "each append's stored entry is its own request's");
    check(fake.calls.get() * 2 <= fake.items.get() && fake.largest.get() <= 256,
        "appends coalesced: " + fake.items.get() + " items in " + fake.calls.get() + " calls, largest " + fake.largest.get());

    Step step = Step.newBuilder().setIndex(0).setFunctionId("f").setStatus(StepStatus.STEP_STATUS_PENDING).build();
    client.appendAction(append(record, "once-unavailable", step));
    check(fake.tries.get("once-unavailable").get() == 2, "an item failed retryably is retried alone");
    client.appendAction(append(record, "marked", step));
    check(fake.tries.get("marked").get() == 2, "an item with the retry mark is retried");
    JournalException bad = expectFailure(() -> client.appendAction(append(record, "bad", step)));
    check(bad.code() == 3 && bad.getMessage().contains("action_key") && fake.tries.get("bad").get() == 1,
        "an item refused is failed with its own code and message, never retried");
    client.close();
    channel.shutdownNow();
    server.shutdownNow();
  }

  /** The payload's byte at i: depends on which entry was asked for. */
  static byte at(ReadPayloadRequest r, int i) {
    int seed = r.hasCompletion() ? 7 : r.getActionKey().length();
    return (byte) (i * 31 + seed);
  }

  private static RetryOptions fastRetries() {
    return new RetryOptions(10, Duration.ofMillis(5), Duration.ofMillis(40),
        Duration.ofSeconds(5), Duration.ofSeconds(2));
  }

  @Test
  void answersAreFilledInAndRetriesFollowTheRule() throws Exception {
    Fake fake = new Fake();
    String name = InProcessServerBuilder.generateName();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    GrpcJournalClient client = new GrpcJournalClient(channel, fastRetries());
    RecordId record = RecordId.newBuilder().setJobId("j").setRecordKey(ByteString.copyFromUtf8("k")).build();
    Step step = Step.newBuilder().setIndex(0).setFunctionId("f").setStatus(StepStatus.STEP_STATUS_PENDING).build();

    // stored unset: filled from the request.
    AppendActionResponse echo = client.appendAction(append(record, "echo", step));
    check(echo.getStoredStep().equals(step), "stored filled from the request");
    AppendActionResponse done = client.appendAction(
        AppendActionRequest.newBuilder().setRecord(record).setActionKey("echo2")
            .setCompletion(Completion.newBuilder().setState(ByteString.copyFromUtf8("s"))).build());
    check(done.getStoredCompletion().getState().toStringUtf8().equals("s"), "stored completion filled");

    // The retry rule.
    long t0 = System.nanoTime();
    client.appendAction(append(record, "retry-after", step));
    check(fake.calls.get("retry-after").get() == 2, "RESOURCE_EXHAUSTED with retry-after: retried once");
    check(System.nanoTime() - t0 >= 30_000_000L, "paused at least the suggested 30 ms");
    client.appendAction(append(record, "aborted-retry-after", step));
    check(fake.calls.get("aborted-retry-after").get() == 2, "any code with retry-after: retried");
    JournalException over = expectFailure(() -> client.appendAction(append(record, "over-limit", step)));
    check(over.code() == 8 && fake.calls.get("over-limit").get() == 1,
        "RESOURCE_EXHAUSTED without retry-after: never retried (" + over.getMessage() + ")");
    client.appendAction(append(record, "unavailable", step));
    check(fake.calls.get("unavailable").get() == 3, "UNAVAILABLE retried until it answers");
    client.appendAction(append(record, "deadline", step));
    check(fake.calls.get("deadline").get() == 2, "DEADLINE_EXCEEDED of a write: retried");
    JournalException readDeadline = expectFailure(() -> client.lookupAction(
        LookupActionRequest.newBuilder().setRecord(record).setActionKey("deadline").build()));
    check(readDeadline.code() == 4 && fake.calls.get("lookup:deadline").get() == 1,
        "DEADLINE_EXCEEDED of a read: not retried");
    JournalException gaveUp = expectFailure(() -> client.appendAction(append(record, "always-unavailable", step)));
    check(gaveUp.code() == 14 && fake.calls.get("always-unavailable").get() == 10,
        "UNAVAILABLE: at most maxAttempts (" + fake.calls.get("always-unavailable").get() + ")");
    RetryOptions tight = new RetryOptions(1000, Duration.ofMillis(20), Duration.ofMillis(50),
        Duration.ofMillis(300), Duration.ofMillis(100));
    GrpcJournalClient budgeted = new GrpcJournalClient(channel, tight);
    long t1 = System.nanoTime();
    expectFailure(() -> budgeted.appendAction(append(record, "always-unavailable", step)));
    long took = (System.nanoTime() - t1) / 1_000_000;
    check(took < 1000, "the budget bounds the retries: " + took + " ms for a 300 ms budget");

    // Left-out payloads are read back in chunks and filled in.
    AppendActionResponse conflict = client.appendAction(append(record, "conflict-omitted", step));
    Step stored = conflict.getStoredStep();
    check(stored.getOmittedBytes() == 0 && stored.getResult().size() == BIG
            && matches(stored.getResult(), ReadPayloadRequest.newBuilder().setActionKey("conflict-omitted").setStepIndex(0).build()),
        "a conflict's omitted result is read back whole");
    LookupActionResponse looked = client.lookupAction(
        LookupActionRequest.newBuilder().setRecord(record).setActionKey("tool-failed").build());
    Step failed = looked.getAction().getSteps(0);
    check(failed.getError().size() == BIG && failed.getResult().isEmpty() && failed.getOmittedBytes() == 0,
        "a FAILED step's omitted payload is its error");

    // BeginRecord pages are concatenated, their payloads filled in.
    fake.reads.set(0);
    BeginRecordResponse begun = client.beginRecord(BeginRecordRequest.newBuilder().setRecord(record).build());
    check(begun.getActionsCount() == 3 && begun.getActions(2).getActionKey().equals("c")
            && begun.getNextPageToken().isEmpty(), "two pages, three actions");
    Completion c = begun.getActions(2).getCompletion();
    check(c.getOmittedBytes() == 0 && c.getState().size() == BIG
            && matches(c.getState(), ReadPayloadRequest.newBuilder().setCompletion(true).build()),
        "the completion's state is read back");
    check(fake.reads.get() == (BIG + CHUNK - 1) / CHUNK, "read in " + fake.reads.get() + " chunks");

    client.close();
    JournalException closed = expectFailure(() -> client.appendAction(append(record, "echo", step)));
    check(closed.code() == 9, "a closed client fails with FAILED_PRECONDITION");
    channel.shutdownNow();
    server.shutdownNow();
  }

  private static boolean matches(ByteString data, ReadPayloadRequest which) {
    for (int i = 0; i < data.size(); i++) {
      if (data.byteAt(i) != at(which, i)) return false;
    }
    return true;
  }

  private static AppendActionRequest append(RecordId record, String key, Step step) {
    return AppendActionRequest.newBuilder().setRecord(record).setActionKey(key).setStep(step).build();
  }

  private static void check(boolean ok, String what) {
    assertTrue(ok, what);
  }

  private static JournalException expectFailure(Runnable body) {
    return assertThrows(JournalException.class, body::run);
  }
}
