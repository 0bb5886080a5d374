package io.actionjournal.flink.agents;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * The job the MiniCluster scenarios run, in a JVM of its own (so that it can be SIGKILLed):
 * INPUTS records "kK:i" over 3 keys, keyed, through {@link TwoCallAgent} on actionjournal, with
 * checkpoints every 200 ms retained on cancellation; each output line is appended to the file
 * {@code aj.output} ("OPERATOR INPUT=RESULT"). Settings are system properties:
 * aj.target, aj.job, aj.transport (grpc, jni), aj.prune, aj.checkpoints (a directory),
 * aj.restore (a checkpoint to restore, or unset), aj.inputs, aj.operators (1 or 2),
 * aj.prune-delay, aj.swap ("A,B": the source emits input B where A was, and A where B was),
 * aj.on-divergence, aj.act-id (TwoCallAgent's second call's id: another version of the agent).
 */
public final class AgentJob {
  private AgentJob() {}

  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    conf.setString("execution.checkpointing.interval", "200ms");
    conf.setString("execution.checkpointing.dir", "file://" + System.getProperty("aj.checkpoints"));
    conf.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    conf.setString("execution.checkpointing.num-retained", "20");
    conf.setString("state.backend.type", "hashmap");
    conf.setString("restart-strategy.type", "fixed-delay");
    conf.setString("restart-strategy.fixed-delay.attempts", "5");
    conf.setString("restart-strategy.fixed-delay.delay", "200ms");
    String restore = System.getProperty("aj.restore", "");
    if (!restore.isEmpty()) conf.setString("execution.state-recovery.path", restore);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(1);

    int inputs = Integer.getInteger("aj.inputs", 12);
    // The source paced (aj.source-ms per record), so that checkpoints fall between records
    // instead of after every buffered one.
    long pace = Long.getLong("aj.source-ms", 0);
    String[] swap = System.getProperty("aj.swap", "0,0").split(",");
    long swapA = Long.parseLong(swap[0]);
    long swapB = Long.parseLong(swap[1]);
    KeyedStream<String, String> keyed =
        env.fromSequence(1, inputs)
            .map(
                i -> {
                  Thread.sleep(pace);
                  long n = i == swapA ? swapB : i == swapB ? swapA : i;
                  return "k" + (n % 3) + ":" + n;
                })
            .returns(String.class)
            .keyBy(s -> s.substring(0, s.indexOf(':')));
    Map<String, String> props = new HashMap<>();
    props.put("actionjournal.target", System.getProperty("aj.target"));
    props.put("actionjournal.job-id", System.getProperty("aj.job"));
    props.put("actionjournal.transport", System.getProperty("aj.transport", "grpc"));
    props.put("actionjournal.prune", System.getProperty("aj.prune", "checkpoint"));
    props.put("actionjournal.prune-delay", System.getProperty("aj.prune-delay", "2"));
    props.put("actionjournal.on-divergence", System.getProperty("aj.on-divergence", "truncate"));
    JournalStoreOptions options = JournalStoreOptions.fromMap(props, Map.of());
    int operators = Integer.getInteger("aj.operators", 1);
    for (int op = 0; op < operators; op++) {
      String name = "agent-" + (char) ('a' + op);
      DataStream<Object> out =
          JournalAgents.apply(keyed, new TwoCallAgent(), new JournalActionStateStore(options))
              .uid(name)
              .name(name);
      out.map(new Record(name, System.getProperty("aj.output")))
          .sinkTo(new DiscardingSink<>());
    }
    env.execute("actionjournal-agent-job");
  }

  /** Appends "OPERATOR OUTPUT" to the output file. */
  static final class Record implements MapFunction<Object, String> {
    private final String operator;
    private final String file;

    Record(String operator, String file) {
      this.operator = operator;
      this.file = file;
    }

    @Override
    public String map(Object output) throws Exception {
      String line = operator + " " + output;
      synchronized (Record.class) {
        Files.write(
            Paths.get(file),
            (line + "\n").getBytes(StandardCharsets.UTF_8),
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      }
      return line;
    }
  }
}
