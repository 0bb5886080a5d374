package io.actionjournal.client;

/**
 * A call to the journal failed: carries the gRPC status code (see {@link #code()}) and the
 * server's message. UNAVAILABLE means the journal could not be reached within the client's retry
 * budget; FAILED_PRECONDITION with "fenced" means a newer attempt owns the record.
 */
public class JournalException extends RuntimeException {
  private static final String[] NAMES = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"
  };

  private final int code;

  public JournalException(int code, String message) {
    super(name(code) + ": " + message);
    this.code = code;
  }

  /** The gRPC status code (14 = UNAVAILABLE, 9 = FAILED_PRECONDITION, ...). */
  public int code() {
    return code;
  }

  /** The code's name, such as "UNAVAILABLE". */
  public String codeName() {
    return name(code);
  }

  private static String name(int code) {
    return code >= 0 && code < NAMES.length ? NAMES[code] : "UNKNOWN";
  }
}
