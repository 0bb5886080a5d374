package io.actionjournal.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendActionsRequest;
import io.actionjournal.v1.AppendOutcome;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pure-Java client cut off from the real server with appends in flight, through the build's
 * fault proxy (tests/faults/fault_proxy.cc): a partition that loses bytes ("drop", the connection
 * reset at the heal, as a peer's TCP would after giving up) and one that holds them ("stall",
 * everything delivered late, after the client's deadlines passed), each followed by a reset of
 * every connection. Four writers race on a sliding window of identities (an action's step 0, or
 * its completion), each append with its own value, so attempts the client gave up on but the server
 * applied meet their own retries (DUPLICATE) and other writers' values (CONFLICT with the stored
 * entry).
 *
 * <p>What must hold: writers are acknowledged again after the heal; a call fails only with what a
 * partition explains (UNAVAILABLE, DEADLINE_EXCEEDED) and never outlasts its retry budget; every
 * acknowledgement of an identity names the same entry, byte for byte, and the server, asked
 * directly (not through the proxy), holds exactly that entry: nothing acknowledged lost, no
 * identity with two results. Retries are counted on the wire (appends sent, against appends
 * asked for), so a run whose fault never touched a call fails instead of passing vacuously.
 */
final class PartitionTest {
  private static final int WRITERS = 4;
  // The window: a writer picks one of the WINDOW newest identities; it slides by one every SLIDE
  // answered calls, so each identity is asked for about SLIDE times, mostly by different writers,
  // however fast the calls go (and it stands still while they are cut off).
  private static final int WINDOW = 4;
  private static final int SLIDE = 3;
  private static final Duration ATTEMPT_DEADLINE = Duration.ofSeconds(1);
  private static final Duration BUDGET = Duration.ofSeconds(20);
  private static final long FAULT_MS = 3000;
  private static final long ONE_WAY_US = 2000;

  @Test
  void partitionThatLosesBytesThenReset(@TempDir Path dir) throws Exception {
    Figures f = partitioned(dir, "drop");
    // Bytes thrown away: the attempts under way fail by their deadline and are retried, the
    // connection is reset at the heal and the retries reconnect.
    assertTrue(f.slowCalls > 0, "a call outlasted one attempt deadline: " + f);
  }

  @Test
  void partitionThatHoldsBytesThenReset(@TempDir Path dir) throws Exception {
    Figures f = partitioned(dir, "stall");
    // Bytes held: the attempts the client gave up on reach the server late, after their retries
    // were sent; whichever the server applies first is what every later one is answered.
    assertTrue(f.slowCalls > 0, "a call outlasted one attempt deadline: " + f);
  }

  /** What a run counted, for the failure messages and the log. */
  static final class Figures {
    long calls, acks, acksAfterHeal, failures, retries, slowCalls, duplicates, conflicts;
    long maxCallMs;
    int identities;
    Map<Status.Code, AtomicLong> attempts;

    @Override
    public String toString() {
      return calls + " calls, " + acks + " acks (" + acksAfterHeal + " after the heal), "
          + failures + " failures, " + retries + " retries on the wire, " + slowCalls
          + " calls over one deadline, max call " + maxCallMs + " ms, " + duplicates
          + " DUPLICATE, " + conflicts + " CONFLICT, " + identities
          + " identities; calls on the wire ended " + attempts;
    }
  }

  /** One call's end: its identity, outcome and stored entry, or its failure's code; its times. */
  static final class Call {
    final int identity;
    final long startNanos, endNanos;
    final ByteString stored; // null when it failed
    final AppendOutcome outcome;
    final int code;

    Call(int identity, long start, long end, ByteString stored, AppendOutcome outcome, int code) {
      this.identity = identity;
      this.startNanos = start;
      this.endNanos = end;
      this.stored = stored;
      this.outcome = outcome;
      this.code = code;
    }
  }

  /**
   * Runs the writers through the proxy: a second of traffic, {@code fault} on for three seconds,
   * off, a second, a reset of every connection, two seconds more; then checks every call and
   * compares every identity's acknowledgements with what the server holds.
   */
  private Figures partitioned(Path dir, String fault) throws Exception {
    RecordId record =
        RecordId.newBuilder()
            .setJobId("partition")
            .setRecordKey(ByteString.copyFromUtf8(fault))
            .setSeqNum(1)
            .build();
    try (TestServer server = TestServer.start(dir.resolve("server"));
        FaultProxy proxy = FaultProxy.start(dir, server.target)) {
      // A link with a round trip of 2 x ONE_WAY_US, as between machines: most appends the fault
      // catches are in flight, some on their way in, some applied with their answer on its way
      // back (whose retries are then answered DUPLICATE).
      proxy.command("delay " + ONE_WAY_US);
      CountAppends wire = new CountAppends();
      // The channel GrpcJournalClient(String) makes, plus a count of the appends each
      // AppendActions (or AppendAction) call carries: the client's retries, seen on the wire.
      ManagedChannel channel =
          GrpcJournalClient.channelBuilder(proxy.target, ClientSecurity.NONE)
              .intercept(wire)
              .build();
      RetryOptions retry =
          new RetryOptions(1000, Duration.ofMillis(20), Duration.ofMillis(250), BUDGET,
              ATTEMPT_DEADLINE);
      GrpcJournalClient client = new GrpcJournalClient(channel, retry);
      ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
      ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
      AtomicLong answered = new AtomicLong();
      List<Thread> writers = new ArrayList<>();
      AtomicBoolean stop = new AtomicBoolean();
      for (int w = 0; w < WRITERS; w++) {
        int writer = w;
        Thread t =
            new Thread(
                () -> {
                  ThreadLocalRandom rnd = ThreadLocalRandom.current();
                  for (int i = 0; !stop.get(); i++) {
                    int identity = (int) (answered.get() / SLIDE) + rnd.nextInt(WINDOW);
                    AppendActionRequest request =
                        append(record, identity, "w" + writer + "-" + i);
                    long start = System.nanoTime();
                    try {
                      AppendActionResponse r = client.appendAction(request);
                      calls.add(new Call(identity, start, System.nanoTime(), stored(r),
                          r.getOutcome(), 0));
                      answered.incrementAndGet();
                    } catch (JournalException e) {
                      calls.add(new Call(identity, start, System.nanoTime(), null, null,
                          e.code()));
                    } catch (RuntimeException | Error e) {
                      // Neither an answer nor a JournalException: the client broke its contract.
                      unexpected.add(e);
                      return;
                    }
                  }
                },
                "writer-" + w);
        writers.add(t);
        t.start();
      }
      Thread.sleep(1000);
      proxy.command(fault + " on");
      Thread.sleep(FAULT_MS);
      proxy.command(fault + " off");
      long healed = System.nanoTime();
      Thread.sleep(1000);
      proxy.command("reset");
      Thread.sleep(2000);
      stop.set(true);
      for (Thread t : writers) {
        t.join(BUDGET.toMillis() + 10_000);
        assertTrue(!t.isAlive(), t.getName() + " still in a call past the retry budget");
      }
      client.close();
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);

      assertTrue(unexpected.isEmpty(), "calls that threw: " + unexpected);
      Figures f = new Figures();
      // identity -> the entry its acknowledgements name; and those naming another.
      Map<Integer, ByteString> acked = new TreeMap<>();
      List<String> disagreements = new ArrayList<>();
      List<String> unexplained = new ArrayList<>();
      long bound = BUDGET.toMillis() + 2000;
      for (Call c : calls) {
        f.calls++;
        long ms = TimeUnit.NANOSECONDS.toMillis(c.endNanos - c.startNanos);
        f.maxCallMs = Math.max(f.maxCallMs, ms);
        if (ms > ATTEMPT_DEADLINE.toMillis()) f.slowCalls++;
        assertTrue(ms <= bound, "a call took " + ms + " ms, past its " + bound + " ms bound");
        if (c.stored == null) {
          f.failures++;
          // Past its budget a partitioned call ends UNAVAILABLE or DEADLINE_EXCEEDED; nothing else.
          if (c.code != 14 && c.code != 4) {
            unexplained.add("identity " + c.identity + ": " + c.code);
          }
          continue;
        }
        f.acks++;
        if (c.endNanos > healed) f.acksAfterHeal++;
        if (c.outcome == AppendOutcome.APPEND_OUTCOME_DUPLICATE) f.duplicates++;
        if (c.outcome == AppendOutcome.APPEND_OUTCOME_CONFLICT) f.conflicts++;
        ByteString first = acked.putIfAbsent(c.identity, c.stored);
        if (first != null && !first.equals(c.stored)) {
          disagreements.add("identity " + c.identity + " acknowledged as two entries");
        }
      }
      f.retries = wire.sent.get() - f.calls;
      f.attempts = new TreeMap<>(wire.ends);
      f.identities = acked.size();
      System.out.println("PartitionTest " + fault + ": " + f);
      assertTrue(unexplained.isEmpty(), "failures a partition does not explain: " + unexplained);
      assertTrue(f.acksAfterHeal > 0, "no writer was acknowledged after the heal: " + f);
      assertTrue(f.retries > 0, "no append was sent twice: the fault touched nothing: " + f);
      assertTrue(disagreements.isEmpty(), disagreements.size() + " " + disagreements);

      // What the server holds, asked directly: exactly the acknowledged entry, for every identity.
      List<String> lost = new ArrayList<>();
      try (GrpcJournalClient direct = new GrpcJournalClient(server.target)) {
        for (Map.Entry<Integer, ByteString> e : acked.entrySet()) {
          int identity = e.getKey();
          LookupActionResponse r =
              direct.lookupAction(
                  LookupActionRequest.newBuilder()
                      .setRecord(record)
                      .setActionKey(actionKey(identity))
                      .build());
          ByteString held = null;
          if (r.getFound()) {
            ActionEntries a = r.getAction();
            if (isStep(identity) && a.getStepsCount() == 1 && !a.hasCompletion()) {
              held = a.getSteps(0).toByteString();
            } else if (!isStep(identity) && a.getStepsCount() == 0 && a.hasCompletion()) {
              held = a.getCompletion().toByteString();
            }
          }
          if (!e.getValue().equals(held)) {
            lost.add("identity " + identity + ": acknowledged " + e.getValue() + ", held "
                + (r.getFound() ? r.getAction() : "nothing"));
          }
        }
      }
      assertEquals(List.of(), lost, "acknowledged entries the server does not hold as such");
      return f;
    }
  }

  /** Even identities are an action's step 0, odd ones an action's completion. */
  private static boolean isStep(int identity) {
    return identity % 2 == 0;
  }

  private static String actionKey(int identity) {
    return (isStep(identity) ? "step-" : "done-") + identity;
  }

  /** The append of {@code value} to {@code identity}: a SUCCEEDED step 0, or a completion. */
  private static AppendActionRequest append(RecordId record, int identity, String value) {
    AppendActionRequest.Builder b =
        AppendActionRequest.newBuilder().setRecord(record).setActionKey(actionKey(identity));
    if (isStep(identity)) {
      b.setStep(
          Step.newBuilder()
              .setIndex(0)
              .setFunctionId("tool")
              .setStatus(StepStatus.STEP_STATUS_SUCCEEDED)
              .setResult(ByteString.copyFromUtf8("result of " + value)));
    } else {
      b.setCompletion(
          Completion.newBuilder().setState(ByteString.copyFromUtf8("state of " + value)));
    }
    return b.build();
  }

  /** The entry an answer says is stored, as bytes. */
  private static ByteString stored(AppendActionResponse r) {
    switch (r.getStoredCase()) {
      case STORED_STEP:
        return r.getStoredStep().toByteString();
      case STORED_COMPLETION:
        return r.getStoredCompletion().toByteString();
      default:
        throw new AssertionError("an answer without its stored entry: " + r);
    }
  }

  /**
   * Counts the appends every outgoing AppendActions (or AppendAction) message carries, and how
   * each attempt ended, by status code.
   */
  static final class CountAppends implements ClientInterceptor {
    final AtomicLong sent = new AtomicLong();
    final Map<Status.Code, AtomicLong> ends = new ConcurrentHashMap<>();

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(
          next.newCall(method, options)) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<RespT>(listener) {
                @Override
                public void onClose(Status status, Metadata trailers) {
                  ends.computeIfAbsent(status.getCode(), c -> new AtomicLong()).incrementAndGet();
                  super.onClose(status, trailers);
                }
              },
              headers);
        }

        @Override
        public void sendMessage(ReqT message) {
          if (message instanceof AppendActionsRequest) {
            sent.addAndGet(((AppendActionsRequest) message).getItemsCount());
          } else if (message instanceof AppendActionRequest) {
            sent.incrementAndGet();
          }
          super.sendMessage(message);
        }
      };
    }
  }

  /**
   * The build's fault proxy ({@code tests/fault_proxy}) in front of {@code target}, as a child
   * process, with its control port held open for commands. Close kills it.
   */
  static final class FaultProxy implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening (\\d+) control (\\d+)");

    final String target;
    private final Process process;
    private final Socket control;
    private final BufferedReader answers;
    private final OutputStream commands;

    private FaultProxy(Process process, String target, Socket control) throws IOException {
      this.process = process;
      this.target = target;
      this.control = control;
      this.answers =
          new BufferedReader(
              new InputStreamReader(control.getInputStream(), StandardCharsets.UTF_8));
      this.commands = control.getOutputStream();
    }

    static FaultProxy start(Path dir, String target) throws IOException {
      Path binary = TestServer.buildDir().resolve("tests/fault_proxy");
      if (!Files.isExecutable(binary)) {
        throw new IllegalStateException(
            "no " + binary + ": cmake --build build --target fault_proxy");
      }
      Process p =
          new ProcessBuilder(
                  binary.toString(), "--target", target, "--listen", "127.0.0.1:0",
                  "--control", "127.0.0.1:0")
              .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("proxy.log").toFile()))
              .start();
      BufferedReader out =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      Matcher m = line == null ? null : LISTENING.matcher(line);
      if (m == null || !m.find()) {
        p.destroyForcibly();
        throw new IOException("fault_proxy did not start (no --control?): " + line + " "
            + Files.readString(dir.resolve("proxy.log")));
      }
      Socket control = new Socket("127.0.0.1", Integer.parseInt(m.group(2)));
      control.setSoTimeout(5000);
      return new FaultProxy(p, "127.0.0.1:" + m.group(1), control);
    }

    /** Sends one command; fails unless it is answered "ok". */
    void command(String line) throws IOException {
      commands.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      commands.flush();
      String answer = answers.readLine();
      if (!"ok".equals(answer)) throw new IOException("fault_proxy: " + line + ": " + answer);
    }

    @Override
    public void close() throws IOException {
      control.close();
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
