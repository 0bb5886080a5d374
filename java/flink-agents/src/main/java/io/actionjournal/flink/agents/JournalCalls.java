package io.actionjournal.flink.agents;

import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.apache.flink.agents.api.context.DurableCallable;

/**
 * Durable calls whose identity names their arguments, for Java agents. Flink Agents 0.3.1 matches a
 * replayed Java call by {@link DurableCallable#getId} alone (its runtime passes an empty argument
 * digest for every Java call), so a call whose prompt or arguments changed is answered with the
 * result of the old ones. A call made here has the id {@code name#digest}, the digest the first 16
 * hex digits of the SHA-256 of the arguments as JSON (keys sorted): a changed argument is a
 * divergence that Flink Agents (truncate), strict mode (fail) and the replayer all see.
 *
 * <pre>{@code
 * String answer = ctx.durableExecute(
 *     JournalCalls.call("llm", Map.of("prompt", prompt, "model", model), String.class,
 *         () -> llm.complete(model, prompt)));
 * }</pre>
 */
public final class JournalCalls {
  private static final JsonMapper JSON =
      JsonMapper.builder()
          .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
          .configure(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY, true)
          .build();

  private JournalCalls() {}

  /** A completion-only durable call: {@code body} runs unless the journal holds its result. */
  public static <T> DurableCallable<T> call(
      String name, Object args, Class<T> resultClass, Callable<T> body) {
    return call(name, args, resultClass, body, null);
  }

  /**
   * A durable call with a reconciler: Flink Agents journals it PENDING before {@code body} runs,
   * and after a failure in between asks {@code reconciler} what became of it.
   */
  public static <T> DurableCallable<T> call(
      String name, Object args, Class<T> resultClass, Callable<T> body, Callable<T> reconciler) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.indexOf('#') >= 0) {
      throw new IllegalArgumentException("name: non-empty, without '#', got \"" + name + "\"");
    }
    String id = name + "#" + digest(args);
    Objects.requireNonNull(resultClass, "resultClass");
    Objects.requireNonNull(body, "body");
    return new DurableCallable<T>() {
      @Override
      public String getId() {
        return id;
      }

      @Override
      public Class<T> getResultClass() {
        return resultClass;
      }

      @Override
      public T call() throws Exception {
        return body.call();
      }

      @Override
      public Callable<T> reconciler() {
        return reconciler;
      }
    };
  }

  /** The digest {@link #call} puts into a call's id: 16 hex digits of the arguments' SHA-256. */
  public static String digest(Object args) {
    return JournalActionStateStore.hex(JournalActionStateStore.sha256(canonicalJson(args)))
        .substring(0, 16);
  }

  /** {@code value} as JSON with map keys and properties sorted: the same bytes in every JVM. */
  public static byte[] canonicalJson(Object value) {
    try {
      return JSON.writeValueAsBytes(value);
    } catch (Exception e) {
      throw new IllegalArgumentException("not serializable to JSON: " + e.getMessage(), e);
    }
  }

  /**
   * The name part of an id {@link #call} made ({@code name#} and 16 hex digits); any other id
   * whole.
   */
  public static String nameOf(String functionId) {
    if (functionId == null) return null;
    int h = functionId.lastIndexOf('#');
    return h >= 0 && functionId.length() - h == 17 && functionId.substring(h + 1).matches("[0-9a-f]{16}")
        ? functionId.substring(0, h)
        : functionId;
  }
}
