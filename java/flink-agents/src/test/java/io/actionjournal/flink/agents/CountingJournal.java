package io.actionjournal.flink.agents;

import io.actionjournal.client.Journal;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.CompleteRecordRequest;
import io.actionjournal.v1.CompleteRecordResponse;
import io.actionjournal.v1.IssueAttemptRequest;
import io.actionjournal.v1.IssueAttemptResponse;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.PruneResponse;
import java.util.concurrent.atomic.AtomicLong;

/** A real journal, with the prunes it carried counted; calls go to {@code dead} while down. */
final class CountingJournal implements Journal {
  final Journal live;
  final Journal dead;
  volatile boolean down;
  final AtomicLong prunes = new AtomicLong();
  final AtomicLong prunedKeys = new AtomicLong();

  CountingJournal(Journal live, Journal dead) {
    this.live = live;
    this.dead = dead;
  }

  private Journal now() {
    return down ? dead : live;
  }

  @Override
  public BeginRecordResponse beginRecord(BeginRecordRequest r) {
    return now().beginRecord(r);
  }

  @Override
  public AppendActionResponse appendAction(AppendActionRequest r) {
    return now().appendAction(r);
  }

  @Override
  public LookupActionResponse lookupAction(LookupActionRequest r) {
    return now().lookupAction(r);
  }

  @Override
  public CompleteRecordResponse completeRecord(CompleteRecordRequest r) {
    return now().completeRecord(r);
  }

  @Override
  public PruneResponse prune(PruneRequest r) {
    PruneResponse answer = now().prune(r);
    prunes.incrementAndGet();
    prunedKeys.addAndGet(r.getKeysCount());
    return answer;
  }

  @Override
  public IssueAttemptResponse issueAttempt(IssueAttemptRequest r) {
    return now().issueAttempt(r);
  }

  @Override
  public void close() {}
}
