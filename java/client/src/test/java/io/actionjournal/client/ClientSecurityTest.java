package io.actionjournal.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.RecordId;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Both Java clients (grpc-java with netty-shaded's TLS, and JNI) against a real server with mutual
 * TLS and tokens, certificates made by openssl for this run: TLS works, the token confines the
 * client to its job, no token is UNAUTHENTICATED, plaintext and an untrusted CA do not connect, and
 * neither an exception nor the server's log carries the token. Then the JNI client over a Unix
 * socket, and grpc-java's.
 */
final class ClientSecurityTest {
  @TempDir static Path work;
  private static Path certs;
  private static String tokenA;
  private static TestServer tlsServer;
  private static TestServer unixServer;
  private static final RetryOptions ONCE =
      new RetryOptions(
          1, Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(5));

  @BeforeAll
  static void startServers() throws Exception {
    System.setProperty("actionjournal.jni", TestServer.jniLibrary().toString());
    certs = TestServer.makeCerts(work.resolve("certs"));
    tokenA = TestServer.run(java.util.List.of("openssl", "rand", "-hex", "24")).trim();
    Files.write(work.resolve("token-a"), tokenA.getBytes(StandardCharsets.US_ASCII));
    StringBuilder digest = new StringBuilder();
    for (byte b : MessageDigest.getInstance("SHA-256").digest(tokenA.getBytes(StandardCharsets.US_ASCII))) {
      digest.append(String.format("%02x", b));
    }
    Files.write(
        work.resolve("tokens"),
        ("job-a-writer sha256:" + digest + " read,write,prune job-a\n").getBytes(StandardCharsets.US_ASCII));
    String tokens = "--auth-tokens-file=" + work.resolve("tokens");
    tlsServer =
        TestServer.start(
            work.resolve("tls"),
            "--store=memory:",
            tokens,
            "--tls-cert-file=" + certs.resolve("server.pem"),
            "--tls-key-file=" + certs.resolve("server.key"),
            "--tls-client-ca-file=" + certs.resolve("ca.pem"));
    unixServer =
        TestServer.start(
            work.resolve("unix"), "--store=memory:", tokens, "--listen=unix:" + work.resolve("aj.sock"));
  }

  @AfterAll
  static void stopServers() throws Exception {
    String logs = (tlsServer == null ? "" : tlsServer.log()) + (unixServer == null ? "" : unixServer.log());
    if (tlsServer != null) tlsServer.close();
    if (unixServer != null) unixServer.close();
    assertFalse(logs.contains(tokenA), "a server log carries the token");
  }

  private static Function<ClientSecurity, Journal> opener(String transport, String target) {
    return s ->
        transport.equals("grpc")
            ? new GrpcJournalClient(target, ONCE, s)
            : new JniJournalClient(target, Duration.ofSeconds(5), 1, Duration.ofSeconds(5), s);
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpc", "jni"})
  void mutualTlsAndTokensConfineTheClientToItsJob(String transport) throws Exception {
    Function<ClientSecurity, Journal> open = opener(transport, tlsServer.target);
    ClientSecurity tls = ClientSecurity.NONE.withTls(certs + "/ca.pem");
    ClientSecurity mutual = tls.withClientCertificate(certs + "/client-a.pem", certs + "/client-a.key");
    ClientSecurity asA = mutual.withTokenFile(work + "/token-a");
    try (Journal a = open.apply(asA)) {
      a.appendAction(append("job-a"));
      assertTrue(a.lookupAction(lookup("job-a")).getFound(), "job A reads back what it wrote");
      expect(7, () -> a.lookupAction(lookup("job-b")));
      expect(7, () -> a.appendAction(append("job-b")));
      expect(7, () -> a.prune(PruneRequest.newBuilder().setJobId("job-b").setWholeJob(true).build()));
    }
    try (Journal noToken = open.apply(mutual)) {
      expect(16, () -> noToken.lookupAction(lookup("job-a")));
    }
    try (Journal plain = open.apply(ClientSecurity.NONE.withTokenFile(work + "/token-a"))) {
      expect(14, () -> plain.lookupAction(lookup("job-a")));
    }
    ClientSecurity wrongCa =
        ClientSecurity.NONE
            .withTls(certs + "/wrong-ca.pem")
            .withClientCertificate(certs + "/client-a.pem", certs + "/client-a.key")
            .withTokenFile(work + "/token-a");
    try (Journal untrusting = open.apply(wrongCa)) {
      expect(14, () -> untrusting.lookupAction(lookup("job-a")));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpc", "jni"})
  void aUnixSocketIsReached(String transport) {
    try (Journal j =
        opener(transport, "unix:" + work.resolve("aj.sock"))
            .apply(ClientSecurity.NONE.withTokenFile(work + "/token-a"))) {
      j.appendAction(append("job-a"));
      assertTrue(j.lookupAction(lookup("job-a")).getFound());
      expect(7, () -> j.lookupAction(lookup("job-b")));
    }
  }

  @Test
  void settingsThatDoNotGoTogetherAreRefusedAtOnce() {
    ClientSecurity tls = ClientSecurity.NONE.withTls(certs + "/ca.pem");
    assertThrows(
        IllegalArgumentException.class,
        () -> new GrpcJournalClient(tlsServer.target, ONCE, tls.withClientCertificate("x", null)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new GrpcJournalClient(tlsServer.target, ONCE, tls.withTokenFile(work + "/no-such-file")));
  }

  private static void expect(int code, Runnable r) {
    JournalException e = assertThrows(JournalException.class, r::run);
    assertEquals(code, e.code(), e.getMessage());
    assertFalse(String.valueOf(e.getMessage()).contains(tokenA), "the exception carries the token");
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

}
