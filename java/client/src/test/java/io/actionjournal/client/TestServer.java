package io.actionjournal.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real server (CMake's build, found through the system property {@code actionjournal.build})
 * as a child process of the test: on a free loopback port, with a SQLite store in its own
 * directory unless the flags say otherwise, logging to {@code server.log} there. Close kills it.
 */
public final class TestServer implements AutoCloseable {
  private static final Pattern LISTENING =
      Pattern.compile("listening grpc=(\\S+) metrics=(\\S+)");

  public final Path dir;
  public final String target;
  /** host:port of /metrics, or null when off. */
  public final String metrics;

  private final Process process;

  private TestServer(Path dir, Process process, String target, String metrics) {
    this.dir = dir;
    this.process = process;
    this.target = target;
    this.metrics = metrics;
  }

  /** The CMake build directory the tests run against. */
  public static Path buildDir() {
    String b = System.getProperty("actionjournal.build");
    if (b == null) throw new IllegalStateException("-Dactionjournal.build=<cmake build dir> unset");
    Path p = Paths.get(b).toAbsolutePath().normalize();
    if (!Files.isExecutable(p.resolve("server/actionjournal-server"))) {
      throw new IllegalStateException("no server in " + p + ": run scripts/build.sh first");
    }
    return p;
  }

  /** The repository's root (system property {@code actionjournal.source}). */
  public static Path sourceDir() {
    return Paths.get(System.getProperty("actionjournal.source", buildDir() + "/.."))
        .toAbsolutePath()
        .normalize();
  }

  /** The JNI library CMake built (for JniJournalClient). */
  public static Path jniLibrary() {
    return buildDir().resolve("java/libactionjournal_jni.so");
  }

  /** Starts a server in {@code dir} with {@code flags} after the defaults, which they override. */
  public static TestServer start(Path dir, String... flags) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    List<String> cmd = new ArrayList<>();
    cmd.add(buildDir().resolve("server/actionjournal-server").toString());
    cmd.add("--listen=127.0.0.1:0");
    cmd.add("--metrics-listen=");
    cmd.add("--store=sqlite://" + dir.resolve("journal.db"));
    cmd.add("--prune-retention=0s");
    cmd.addAll(Arrays.asList(flags));
    Path log = dir.resolve("server.log");
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      Matcher m = LISTENING.matcher(read(log));
      if (m.find()) {
        return new TestServer(dir, p, m.group(1), m.group(2).equals("off") ? null : m.group(2));
      }
      if (!p.isAlive()) break;
      Thread.sleep(25);
    }
    p.destroyForcibly();
    throw new IOException("the server did not start: " + read(log));
  }

  /** The server's process id (for its CPU time in /proc). */
  public long pid() {
    return process.pid();
  }

  /** What the server logged so far. */
  public String log() throws IOException {
    return read(dir.resolve("server.log"));
  }

  /** The /metrics page. */
  public String scrape() throws IOException {
    if (metrics == null) throw new IllegalStateException("metrics are off");
    HttpURLConnection c =
        (HttpURLConnection) new URL("http://" + metrics + "/metrics").openConnection();
    try (InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }

  /** The sum of a metric's samples (every label set) on /metrics. */
  public double metric(String name) throws IOException {
    double sum = 0;
    for (String line : scrape().split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /** SIGKILL, and wait for it. */
  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Runs a command, failing with its output when it fails. */
  public static String run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed: " + out);
    return out;
  }

  /** Certificates for a run (tests/testing/make_certs.sh: ca, server, client-a, wrong-ca). */
  public static Path makeCerts(Path dir) throws IOException, InterruptedException {
    Path script = sourceDir().resolve("tests/testing/make_certs.sh");
    run(List.of("bash", script.toString(), dir.toString()));
    return dir;
  }

  private static String read(Path p) throws IOException {
    return Files.exists(p) ? new String(Files.readAllBytes(p), StandardCharsets.UTF_8) : "";
  }
}
