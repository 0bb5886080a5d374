package io.actionjournal.client;

import com.google.protobuf.ByteString;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.ActionJournalGrpc;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendActionsRequest;
import io.actionjournal.v1.AppendActionsResponse;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.CompleteRecordRequest;
import io.actionjournal.v1.CompleteRecordResponse;
import io.actionjournal.v1.GetRecordRequest;
import io.actionjournal.v1.GetRecordResponse;
import io.actionjournal.v1.IssueAttemptRequest;
import io.actionjournal.v1.IssueAttemptResponse;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.ListRecordsRequest;
import io.actionjournal.v1.ListRecordsResponse;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.PruneResponse;
import io.actionjournal.v1.ReadPayloadRequest;
import io.actionjournal.v1.ReadPayloadResponse;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.Step;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The journal over grpc-java, no native code: what a TaskManager uses to reach its sidecar
 * ("127.0.0.1:7450") or a shared journal ("dns:///actionjournal.flink.svc:7450"). Thread-safe;
 * share one per JVM.
 *
 * <p>Retries follow the wire contract (journal.proto): UNAVAILABLE is retried; any other code only
 * when the answer's trailers carry {@code actionjournal-retry-after-ms} (a full queue), pausing at
 * least that long; DEADLINE_EXCEEDED is retried for writes, which are idempotent; everything else
 * (a request over a limit included) fails at once. Pauses are full-jitter exponential, within the
 * {@link RetryOptions} budget.
 */
public final class GrpcJournalClient implements Journal {
  static final Metadata.Key<String> RETRY_AFTER_MS =
      Metadata.Key.of("actionjournal-retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);
  // A payload is read back in chunks of at most the answer bound (3 MiB by default); a 4 MiB
  // payload takes two. The bound only stops a misbehaving server from looping us forever.
  private static final int MAX_PAGES = 100_000;

  private static final int MAX_CALLS_IN_FLIGHT = 2;
  private static final int MAX_BATCH_ITEMS = 256;
  private static final int MAX_BATCH_BYTES = 1 << 20;

  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final ActionJournalGrpc.ActionJournalBlockingStub stub;
  private final ActionJournalGrpc.ActionJournalStub asyncStub;
  private final RetryOptions retry;
  private volatile boolean closed;
  // Coalesced appends (appendAction): waiting to be sent, and AppendActions calls under way.
  private final Object batchLock = new Object();
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private int batchesInFlight;
  private volatile boolean batchesUnsupported;
  private final ScheduledExecutorService retryTimer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "actionjournal-retry");
            t.setDaemon(true);
            return t;
          });

  /** Plaintext to {@code target} with the default retry options. */
  public GrpcJournalClient(String target) {
    this(target, RetryOptions.defaults());
  }

  public GrpcJournalClient(String target, RetryOptions retry) {
    this(target, retry, ClientSecurity.NONE);
  }

  /**
   * To {@code target} over TLS, mutual TLS and with a bearer token as {@code security} says.
   * IllegalArgumentException naming the setting when a file cannot be read (never quoting the
   * token). The certificates are read once; the token file every few seconds.
   *
   * <p>"unix:" targets work through grpc-netty-shaded's native epoll transport (x86_64 and
   * aarch64 Linux); TLS needs no native library.
   */
  public GrpcJournalClient(String target, RetryOptions retry, ClientSecurity security) {
    this(channelTo(Objects.requireNonNull(target, "target"), security), true, retry);
  }

  private static ManagedChannel channelTo(String target, ClientSecurity security) {
    return channelBuilder(target, security).build();
  }

  /** The channel this client makes for {@code target}, before it is built (tests add to it). */
  static ManagedChannelBuilder<?> channelBuilder(String target, ClientSecurity security) {
    Objects.requireNonNull(security, "security").check();
    ChannelCredentials credentials = InsecureChannelCredentials.create();
    if (security.caFile() != null) {
      TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
      try {
        tls.trustManager(new File(security.caFile()));
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException("tls-ca-file: cannot use " + security.caFile(), e);
      }
      if (security.certFile() != null) {
        try {
          tls.keyManager(new File(security.certFile()), new File(security.keyFile()));
        } catch (IOException | RuntimeException e) {
          throw new IllegalArgumentException(
              "tls-cert-file, tls-key-file: cannot use "
                  + security.certFile()
                  + " and "
                  + security.keyFile(),
              e);
        }
      }
      credentials = tls.build();
    }
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(target, credentials)
            // Every address the target resolves to serves a share (a headless Service).
            .defaultLoadBalancingPolicy("round_robin")
            // A connection that died silently (a partition, a NAT that forgot it) is noticed
            // within 15 s and made anew, instead of every retry going to it until TCP gives up
            // (the server permits a ping every 5 s).
            .keepAliveTime(10, TimeUnit.SECONDS)
            .keepAliveTimeout(5, TimeUnit.SECONDS)
            .keepAliveWithoutCalls(true)
            // Answers are bounded at 3 MiB by the server; leave room for the framing.
            .maxInboundMessageSize(8 << 20);
    if (security.tokenFile() != null) builder.intercept(new BearerToken(security.tokenFile()));
    return builder;
  }

  /** Adds {@code authorization: Bearer <token>} to every call; re-reads the file every 5 s. */
  private static final class BearerToken implements ClientInterceptor {
    private static final Metadata.Key<String> AUTHORIZATION =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private final String file;
    private String header;
    private long readAtNanos;

    BearerToken(String file) {
      this.file = file;
      this.header = "Bearer " + ClientSecurity.readToken(file);
      this.readAtNanos = System.nanoTime();
    }

    private synchronized String header() {
      if (System.nanoTime() - readAtNanos > TimeUnit.SECONDS.toNanos(5)) {
        readAtNanos = System.nanoTime();
        try {
          header = "Bearer " + ClientSecurity.readToken(file);
        } catch (IllegalArgumentException e) {
          // Keep the last token: a file being swapped is gone for a moment.
        }
      }
      return header;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(
          next.newCall(method, options)) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          headers.put(AUTHORIZATION, header());
          super.start(listener, headers);
        }
      };
    }
  }

  /** Over a channel the caller built (TLS, in-process for tests); the caller closes it. */
  public GrpcJournalClient(ManagedChannel channel, RetryOptions retry) {
    this(channel, false, retry);
  }

  private GrpcJournalClient(ManagedChannel channel, boolean ownsChannel, RetryOptions retry) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.ownsChannel = ownsChannel;
    this.retry = Objects.requireNonNull(retry, "retry");
    this.stub = ActionJournalGrpc.newBlockingStub(channel);
    this.asyncStub = ActionJournalGrpc.newStub(channel);
  }

  @Override
  public BeginRecordResponse beginRecord(BeginRecordRequest request) {
    Objects.requireNonNull(request, "request");
    BeginRecordResponse first = call(true, s -> s.beginRecord(request));
    BeginRecordResponse.Builder all = first.toBuilder().clearNextPageToken();
    ByteString token = first.getNextPageToken();
    for (int page = 0; !token.isEmpty(); page++) {
      if (page == MAX_PAGES) {
        throw new JournalException(13, "BeginRecord: more than " + MAX_PAGES + " pages");
      }
      BeginRecordRequest next = request.toBuilder().setPageToken(token).build();
      BeginRecordResponse r = call(true, s -> s.beginRecord(next));
      all.addAllActions(r.getActionsList());
      token = r.getNextPageToken();
    }
    RecordId record = request.getRecord();
    for (int i = 0; i < all.getActionsCount(); i++) {
      all.setActions(i, fill(record, all.getActions(i)));
    }
    return all.build();
  }

  /**
   * Appends travel coalesced, as the C++ client's do: one goes out at once when fewer than two
   * AppendActions calls are in flight; otherwise the next gathers, up to 256 appends or 1 MiB, into
   * one call. Each append keeps its own answer, error and retries (the same rule as {@link #call}).
   * A server without AppendActions gets one AppendAction per append from then on.
   */
  @Override
  public AppendActionResponse appendAction(AppendActionRequest request) {
    Objects.requireNonNull(request, "request");
    if (closed) throw new JournalException(9, "client is closed");
    if (!batchesUnsupported) {
      Pending p = new Pending(request);
      enqueue(p);
      AppendActionResponse r;
      try {
        r = p.answer.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new JournalException(1, "interrupted while waiting for the append's answer");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof JournalException) throw (JournalException) e.getCause();
        throw new JournalException(13, "append failed: " + e.getCause());
      }
      if (r != null) return completeAppend(request, r);
      // null: the server has no AppendActions; one call per append.
    }
    return completeAppend(request, call(true, s -> s.appendAction(request)));
  }

  /** The answer with its stored entry filled in (from the request, or read back). */
  private AppendActionResponse completeAppend(AppendActionRequest request, AppendActionResponse r) {
    AppendActionResponse.Builder b = r.toBuilder();
    switch (r.getStoredCase()) {
      case STORED_STEP:
        b.setStoredStep(fill(request.getRecord(), request.getActionKey(), r.getStoredStep()));
        break;
      case STORED_COMPLETION:
        b.setStoredCompletion(
            fill(request.getRecord(), request.getActionKey(), r.getStoredCompletion()));
        break;
      default:
        // Unset: the stored entry is exactly the request's; callers always see one.
        if (request.hasStep()) {
          b.setStoredStep(request.getStep());
        } else if (request.hasCompletion()) {
          b.setStoredCompletion(request.getCompletion());
        }
    }
    return b.build();
  }

  @Override
  public LookupActionResponse lookupAction(LookupActionRequest request) {
    Objects.requireNonNull(request, "request");
    LookupActionResponse r = call(false, s -> s.lookupAction(request));
    if (!r.hasAction()) return r;
    return r.toBuilder().setAction(fill(request.getRecord(), r.getAction())).build();
  }

  @Override
  public CompleteRecordResponse completeRecord(CompleteRecordRequest request) {
    Objects.requireNonNull(request, "request");
    return call(true, s -> s.completeRecord(request));
  }

  @Override
  public PruneResponse prune(PruneRequest request) {
    Objects.requireNonNull(request, "request");
    // Deleting is idempotent: a retried prune deletes what is left.
    return call(true, s -> s.prune(request));
  }

  @Override
  public IssueAttemptResponse issueAttempt(IssueAttemptRequest request) {
    Objects.requireNonNull(request, "request");
    // Not idempotent, and need not be: a retry whose first try was applied only skips a number.
    return call(true, s -> s.issueAttempt(request));
  }

  /**
   * One page of a job's records, newest first (read-only: no attempt, nothing written). Pass the
   * answer's {@code next_page_token} back for the next page.
   */
  public ListRecordsResponse listRecords(ListRecordsRequest request) {
    Objects.requireNonNull(request, "request");
    return call(false, s -> s.listRecords(request));
  }

  /**
   * One record whole without taking it over (read-only): every page of its actions, and with
   * {@code include_payloads} every payload, those the answer bound left out read back.
   */
  public GetRecordResponse getRecord(GetRecordRequest request) {
    Objects.requireNonNull(request, "request");
    GetRecordResponse first = call(false, s -> s.getRecord(request));
    GetRecordResponse.Builder all = first.toBuilder().clearNextPageToken();
    ByteString token = first.getNextPageToken();
    for (int page = 0; !token.isEmpty(); page++) {
      if (page == MAX_PAGES) {
        throw new JournalException(13, "GetRecord: more than " + MAX_PAGES + " pages");
      }
      GetRecordRequest next = request.toBuilder().setPageToken(token).build();
      GetRecordResponse r = call(false, s -> s.getRecord(next));
      all.addAllActions(r.getActionsList());
      token = r.getNextPageToken();
    }
    if (request.getIncludePayloads()) {
      for (int i = 0; i < all.getActionsCount(); i++) {
        all.setActions(i, fill(request.getRecord(), all.getActions(i)));
      }
    }
    return all.build();
  }

  /** One append waiting for its answer, with its own retry state. */
  private final class Pending {
    final AppendActionRequest request;
    final CompletableFuture<AppendActionResponse> answer = new CompletableFuture<>();
    final int size;
    final Backoff backoff = new Backoff();
    int attempt;

    Pending(AppendActionRequest request) {
      this.request = request;
      this.size = request.getSerializedSize();
    }
  }

  /** One call's retries under the wire contract's rule (the class comment), within the budget. */
  private final class Backoff {
    private final long start = System.nanoTime();
    private long bound = retry.initialBackoff.toNanos();

    /** What is left of the budget. */
    long left() {
      return retry.budget.toNanos() - (System.nanoTime() - start);
    }

    /**
     * The pause before attempt {@code attempt + 1} after a failure with {@code code} (and the
     * server's retry-after, or null), or -1 when the failure is final.
     */
    long next(Status.Code code, Long retryAfterMs, boolean write, int attempt) {
      boolean retryable =
          code == Status.Code.UNAVAILABLE
              || retryAfterMs != null
              || (write && code == Status.Code.DEADLINE_EXCEEDED);
      if (!retryable || attempt >= retry.maxAttempts || closed) return -1;
      long pause = ThreadLocalRandom.current().nextLong(bound + 1);
      if (retryAfterMs != null) pause = Math.max(pause, TimeUnit.MILLISECONDS.toNanos(retryAfterMs));
      bound = Math.min(bound * 2, retry.maxBackoff.toNanos());
      if (pause >= left()) return -1;
      // A channel whose connection failed fails calls at once until its own (slow) reconnect
      // schedule; ask it to reconnect now so a sidecar that just started is used at once.
      channel.resetConnectBackoff();
      return pause;
    }
  }

  /** Queues {@code p}; sends at once when a call may go, else a call's end sends what gathered. */
  private void enqueue(Pending p) {
    List<Pending> batch;
    synchronized (batchLock) {
      pending.add(p);
      if (batchesInFlight >= MAX_CALLS_IN_FLIGHT) return;
      batchesInFlight++;
      batch = takeBatch();
    }
    send(batch);
  }

  /** The next batch: up to 256 appends and 1 MiB (one larger append goes alone). */
  private List<Pending> takeBatch() {
    List<Pending> batch = new ArrayList<>();
    long bytes = 0;
    while (!pending.isEmpty() && batch.size() < MAX_BATCH_ITEMS) {
      Pending next = pending.peek();
      if (!batch.isEmpty() && bytes + next.size > MAX_BATCH_BYTES) break;
      bytes += next.size;
      batch.add(pending.poll());
    }
    return batch;
  }

  private void send(List<Pending> batch) {
    AppendActionsRequest.Builder request = AppendActionsRequest.newBuilder();
    long deadline = retry.attemptDeadline.toNanos();
    long now = System.nanoTime();
    for (Pending p : batch) {
      p.attempt++;
      request.addItems(p.request);
      deadline = Math.min(deadline, p.backoff.left());
    }
    asyncStub
        .withDeadlineAfter(Math.max(deadline, 1), TimeUnit.NANOSECONDS)
        .appendActions(
            request.build(),
            new StreamObserver<AppendActionsResponse>() {
              private AppendActionsResponse answer;

              @Override
              public void onNext(AppendActionsResponse r) {
                answer = r;
              }

              @Override
              public void onError(Throwable t) {
                batchDone(batch, null, Status.fromThrowable(t), Status.trailersFromThrowable(t));
              }

              @Override
              public void onCompleted() {
                batchDone(batch, answer, Status.OK, null);
              }
            });
  }

  /** Sends what gathered meanwhile, then answers (or retries) each append of the batch. */
  private void batchDone(
      List<Pending> batch, AppendActionsResponse answer, Status status, Metadata trailers) {
    List<Pending> next;
    synchronized (batchLock) {
      next = takeBatch();
      if (next.isEmpty()) batchesInFlight--;
    }
    if (!next.isEmpty()) send(next);
    if (status.getCode() == Status.Code.UNIMPLEMENTED) {
      batchesUnsupported = true;
      for (Pending p : batch) p.answer.complete(null);
      return;
    }
    for (int i = 0; i < batch.size(); i++) {
      Pending p = batch.get(i);
      if (!status.isOk()) {
        settle(p, status.getCode().value(), describe(status), retryAfterMs(trailers));
      } else if (answer == null || i >= answer.getItemsCount()) {
        p.answer.completeExceptionally(
            new JournalException(13, "AppendActions: answer has too few items"));
      } else {
        AppendActionsResponse.Item item = answer.getItems(i);
        if (item.getCode() == 0) {
          p.answer.complete(item.getResponse());
        } else {
          settle(p, item.getCode(), item.getMessage(), item.getRetryable() ? 0L : null);
        }
      }
    }
  }

  /** A failed append: queued again after its pause when the retry rule allows, else failed. */
  private void settle(Pending p, int code, String message, Long retryAfterMs) {
    long pause = p.backoff.next(Status.fromCodeValue(code).getCode(), retryAfterMs, true, p.attempt);
    if (pause < 0) {
      p.answer.completeExceptionally(new JournalException(code, message));
      return;
    }
    try {
      retryTimer.schedule(() -> enqueue(p), pause, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      p.answer.completeExceptionally(new JournalException(code, message)); // closing
    }
  }

  @Override
  public void close() {
    closed = true;
    // Appends waiting out a pause are sent now; on a closed channel they fail at once.
    for (Runnable waiting : retryTimer.shutdownNow()) waiting.run();
    if (ownsChannel) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private ActionEntries fill(RecordId record, ActionEntries action) {
    ActionEntries.Builder b = action.toBuilder();
    for (int i = 0; i < b.getStepsCount(); i++) {
      b.setSteps(i, fill(record, action.getActionKey(), b.getSteps(i)));
    }
    if (action.hasCompletion()) {
      b.setCompletion(fill(record, action.getActionKey(), action.getCompletion()));
    }
    return b.build();
  }

  private Step fill(RecordId record, String actionKey, Step step) {
    if (step.getOmittedBytes() == 0) return step;
    ByteString data =
        readPayload(
            ReadPayloadRequest.newBuilder()
                .setRecord(record)
                .setActionKey(actionKey)
                .setStepIndex(step.getIndex()),
            step.getOmittedBytes());
    Step.Builder b = step.toBuilder().clearOmittedBytes();
    // The payload is the error of a FAILED step and the result otherwise (proto: "by status").
    if (step.getStatus() == io.actionjournal.v1.StepStatus.STEP_STATUS_FAILED) {
      b.setError(data);
    } else {
      b.setResult(data);
    }
    return b.build();
  }

  private Completion fill(RecordId record, String actionKey, Completion completion) {
    if (completion.getOmittedBytes() == 0) return completion;
    ByteString data =
        readPayload(
            ReadPayloadRequest.newBuilder()
                .setRecord(record)
                .setActionKey(actionKey)
                .setCompletion(true),
            completion.getOmittedBytes());
    return completion.toBuilder().clearOmittedBytes().setState(data).build();
  }

  /** Reads a left-out payload chunk by chunk until its total. */
  private ByteString readPayload(ReadPayloadRequest.Builder request, long expected) {
    ByteString.Output out = ByteString.newOutput((int) Math.min(expected, 64 << 20));
    long total = expected;
    for (int page = 0; out.size() < total; page++) {
      if (page == MAX_PAGES) {
        throw new JournalException(13, "ReadPayload: more than " + MAX_PAGES + " chunks");
      }
      ReadPayloadRequest r = request.setOffset(out.size()).build();
      ReadPayloadResponse chunk = call(false, s -> s.readPayload(r));
      total = chunk.getTotalBytes();
      if (chunk.getData().isEmpty() && out.size() < total) {
        throw new JournalException(
            15, "ReadPayload: empty chunk at offset " + out.size() + " of " + total);
      }
      try {
        chunk.getData().writeTo(out);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e); // ByteString.Output does not throw
      }
    }
    if (out.size() != total) {
      throw new JournalException(15, "ReadPayload: read " + out.size() + " of " + total + " bytes");
    }
    return out.toByteString();
  }

  private <T> T call(boolean write, Function<ActionJournalGrpc.ActionJournalBlockingStub, T> rpc) {
    if (closed) throw new JournalException(9, "client is closed");
    Backoff backoff = new Backoff();
    for (int attempt = 1; ; attempt++) {
      long deadline = Math.min(retry.attemptDeadline.toNanos(), backoff.left());
      StatusRuntimeException failure;
      try {
        return rpc.apply(stub.withDeadlineAfter(deadline, TimeUnit.NANOSECONDS));
      } catch (StatusRuntimeException e) {
        failure = e;
      }
      long pause =
          backoff.next(
              failure.getStatus().getCode(), retryAfterMs(failure.getTrailers()), write, attempt);
      if (pause < 0) throw toJournal(failure);
      try {
        TimeUnit.NANOSECONDS.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new JournalException(1, "interrupted while waiting to retry: " + failure.getMessage());
      }
    }
  }

  private static Long retryAfterMs(Metadata trailers) {
    if (trailers == null) return null;
    String v = trailers.get(RETRY_AFTER_MS);
    if (v == null) return null;
    try {
      long ms = Long.parseLong(v.trim());
      return ms < 0 ? 0L : ms;
    } catch (NumberFormatException e) {
      // Malformed, but the server still said "retry": pause by the backoff alone.
      return 0L;
    }
  }

  private static JournalException toJournal(StatusRuntimeException e) {
    return new JournalException(e.getStatus().getCode().value(), describe(e.getStatus()));
  }

  private static String describe(Status s) {
    if (s.getDescription() != null) return s.getDescription();
    return s.getCause() != null ? s.getCause().toString() : s.getCode().name();
  }
}
