package io.actionjournal.flink.agents;

import io.actionjournal.client.ClientSecurity;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.RetryOptions;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One pure-Java client per (target, security) in a JVM, shared by every store that asks for it:
 * the subtasks of a TaskManager then hold one connection to their sidecar instead of one each, and
 * their concurrent appends coalesce into AppendActions batches in that client. Counted: the client
 * closes when its last store does, and the next store opens a new one.
 */
final class SharedClients {
  private SharedClients() {}

  private static final class Key {
    final String target;
    final ClientSecurity security;

    Key(String target, ClientSecurity security) {
      this.target = target;
      this.security = security;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key
          && ((Key) o).target.equals(target)
          && ((Key) o).security.equals(security);
    }

    @Override
    public int hashCode() {
      return Objects.hash(target, security);
    }
  }

  private static final class Shared {
    final GrpcJournalClient client;
    int users;

    Shared(GrpcJournalClient client) {
      this.client = client;
    }
  }

  private static final Map<Key, Shared> CLIENTS = new HashMap<>();

  /** The shared client of these settings, opened if none is; release it with {@link #release}. */
  static synchronized Journal acquire(String target, ClientSecurity security) {
    Key k = new Key(target, security);
    Shared s = CLIENTS.get(k);
    if (s == null) {
      s = new Shared(new GrpcJournalClient(target, RetryOptions.defaults(), security));
      CLIENTS.put(k, s);
    }
    s.users++;
    return s.client;
  }

  /** One user fewer; the last one closes the client. */
  static synchronized void release(Journal client) {
    for (Map.Entry<Key, Shared> e : CLIENTS.entrySet()) {
      Shared s = e.getValue();
      if (s.client != client) continue;
      if (--s.users == 0) {
        CLIENTS.remove(e.getKey());
        s.client.close();
      }
      return;
    }
    throw new IllegalStateException("not a shared client");
  }

  /** Clients open now (for tests). */
  static synchronized int open() {
    return CLIENTS.size();
  }
}
