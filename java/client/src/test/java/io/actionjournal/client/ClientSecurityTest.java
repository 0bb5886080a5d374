package io.actionjournal.test;

import io.actionjournal.client.ClientSecurity;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalClient;
import io.actionjournal.client.JournalException;
import io.actionjournal.client.RetryOptions;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.RecordId;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.function.Function;

/**
 * Both Java clients (grpc-java and JNI) against a real server with mutual TLS and tokens
 * (tests/java/security_test.sh): TLS works, the token confines the client to its job, no token is
 * UNAUTHENTICATED, plaintext and an untrusted CA do not connect, and no exception carries the
 * token.
 *
 * <p>usage: SecurityChecks TLS_TARGET CERT_DIR WORK_DIR UNIX_TARGET
 */
public final class SecurityChecks {
  private static int failures;

  public static void main(String[] args) throws Exception {
    String target = args[0];
    String certs = args[1];
    String work = args[2];
    String unixTarget = args[3];
    String tokenA = new String(Files.readAllBytes(Paths.get(work, "token-a"))).trim();
    ClientSecurity tls = ClientSecurity.NONE.withTls(certs + "/ca.pem");
    ClientSecurity mutual = tls.withClientCertificate(certs + "/client-a.pem", certs + "/client-a.key");
    ClientSecurity asA = mutual.withTokenFile(work + "/token-a");
    RetryOptions once =
        new RetryOptions(
            1, Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(5));

    for (String transport : new String[] {"grpc", "jni"}) {
      Function<ClientSecurity, Journal> open =
          s ->
              transport.equals("grpc")
                  ? new GrpcJournalClient(target, once, s)
                  : new JournalClient(target, Duration.ofSeconds(5), 1, Duration.ofSeconds(5), s);
      try (Journal a = open.apply(asA)) {
        check(transport + ": job A appends over mutual TLS", () -> a.appendAction(append("job-a")));
        check(transport + ": job A looks up", () -> a.lookupAction(lookup("job-a")).getFound());
        expect(transport + ": job A reads job B", 7, tokenA, () -> a.lookupAction(lookup("job-b")));
        expect(transport + ": job A writes job B", 7, tokenA, () -> a.appendAction(append("job-b")));
        expect(
            transport + ": job A prunes job B",
            7,
            tokenA,
            () -> a.prune(PruneRequest.newBuilder().setJobId("job-b").setWholeJob(true).build()));
      }
      try (Journal noToken = open.apply(mutual)) {
        expect(transport + ": no token", 16, tokenA, () -> noToken.lookupAction(lookup("job-a")));
      }
      try (Journal plain = open.apply(ClientSecurity.NONE.withTokenFile(work + "/token-a"))) {
        expect(transport + ": plaintext", 14, tokenA, () -> plain.lookupAction(lookup("job-a")));
      }
      ClientSecurity wrongCa =
          ClientSecurity.NONE
              .withTls(certs + "/wrong-ca.pem")
              .withClientCertificate(certs + "/client-a.pem", certs + "/client-a.key")
              .withTokenFile(work + "/token-a");
      try (Journal untrusting = open.apply(wrongCa)) {
        expect(transport + ": wrong CA", 14, tokenA, () -> untrusting.lookupAction(lookup("job-a")));
      }
    }
    // A Unix socket: the JNI client (C++) reaches it; grpc-java 1.41 cannot (README).
    try (Journal jni =
        new JournalClient(
            unixTarget,
            Duration.ofSeconds(5),
            1,
            Duration.ofSeconds(5),
            ClientSecurity.NONE.withTokenFile(work + "/token-a"))) {
      check("jni: over a unix socket", () -> jni.appendAction(append("job-a")));
      expect("jni: unix socket, job B", 7, tokenA, () -> jni.lookupAction(lookup("job-b")));
    }
    // Settings that do not go together, or a token file that is not there, are refused at once.
    expectIllegal(
        "cert without key",
        () -> new GrpcJournalClient(target, once, tls.withClientCertificate("x", null)));
    expectIllegal(
        "missing token file",
        () -> new GrpcJournalClient(target, once, tls.withTokenFile(work + "/no-such-file")));

    if (failures > 0) {
      System.out.println(failures + " check(s) failed");
      System.exit(1);
    }
    System.out.println("all security checks passed");
  }

  private static RecordId record(String job) {
    return RecordId.newBuilder()
        .setJobId(job)
        .setRecordKey(com.google.protobuf.ByteString.copyFromUtf8("k"))
        .setSeqNum(1)
        .build();
  }

  private static LookupActionRequest lookup(String job) {
    return LookupActionRequest.newBuilder().setRecord(record(job)).setActionKey("act").build();
  }

  private static AppendActionRequest append(String job) {
    return AppendActionRequest.newBuilder()
        .setRecord(record(job))
        .setActionKey("act")
        .setCompletion(
            Completion.newBuilder().setState(com.google.protobuf.ByteString.copyFromUtf8("s")))
        .build();
  }

  private static void check(String what, ThrowingRunnable r) {
    try {
      r.run();
      System.out.println("ok   " + what);
    } catch (Exception e) {
      failures++;
      System.out.println("FAIL " + what + ": " + e);
    }
  }

  private static void expect(String what, int code, String token, ThrowingRunnable r) {
    try {
      r.run();
      failures++;
      System.out.println("FAIL " + what + ": succeeded, expected code " + code);
    } catch (JournalException e) {
      boolean leaks = String.valueOf(e.getMessage()).contains(token);
      if (e.code() != code || leaks) {
        failures++;
        System.out.println("FAIL " + what + ": " + e + (leaks ? " (carries the token)" : ""));
      } else {
        System.out.println("ok   " + what + ": " + e.getMessage());
      }
    } catch (Exception e) {
      failures++;
      System.out.println("FAIL " + what + ": " + e);
    }
  }

  private static void expectIllegal(String what, ThrowingRunnable r) {
    try {
      r.run();
      failures++;
      System.out.println("FAIL " + what + ": accepted");
    } catch (IllegalArgumentException e) {
      System.out.println("ok   " + what + ": " + e.getMessage());
    } catch (Exception e) {
      failures++;
      System.out.println("FAIL " + what + ": " + e);
    }
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }
}
