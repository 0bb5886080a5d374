package io.actionjournal.client;

/** The JNI entry points (java/jni/journal_jni.cc); use {@link JniJournalClient}. */
final class NativeJournal {
  static final int BEGIN = 0;
  static final int APPEND = 1;
  static final int LOOKUP = 2;
  static final int COMPLETE = 3;
  static final int PRUNE = 4;
  static final int ISSUE_ATTEMPT = 5;

  static {
    // -Dactionjournal.jni=/path/libactionjournal_jni.so, else java.library.path.
    String path = System.getProperty("actionjournal.jni");
    if (path != null) {
      System.load(path);
    } else {
      System.loadLibrary("actionjournal_jni");
    }
  }

  private NativeJournal() {}

  /** The security files may be null (not used). */
  static native long open(
      String target,
      long deadlineMillis,
      int maxAttempts,
      long budgetMillis,
      String tlsCaFile,
      String tlsCertFile,
      String tlsKeyFile,
      String tokenFile);

  static native void close(long handle);

  static native byte[] call(long handle, int method, byte[] request);
}
