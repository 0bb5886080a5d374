package io.actionjournal.client;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.RecordId;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pure-Java client against a target that resolves to two servers: it must
 * spread its calls over both (round_robin), as over a headless Service's
 * pods. grpc-java has no resolver for a literal address list, so
 * "aj-static:///h:p,h:p" is resolved here, standing for DNS answering with
 * two addresses. Two real servers; each server's share is read off its
 * /metrics: round_robin gives 20 of 40 each, gRPC's default (pick_first)
 * would give one of them all 40.
 */
final class BalanceTest {

  /** Resolves "aj-static:///h:p,h:p" to those addresses, once. */
  static final class StaticResolverProvider extends NameResolverProvider {
    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public String getDefaultScheme() {
      return "aj-static";
    }

    @Override
    public NameResolver newNameResolver(URI uri, NameResolver.Args args) {
      if (!"aj-static".equals(uri.getScheme())) {
        return null;
      }
      List<EquivalentAddressGroup> groups = new ArrayList<>();
      for (String hostPort : uri.getPath().substring(1).split(",")) {
        int colon = hostPort.lastIndexOf(':');
        SocketAddress address =
            new InetSocketAddress(
                hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
        groups.add(new EquivalentAddressGroup(address));
      }
      return new NameResolver() {
        @Override
        public String getServiceAuthority() {
          return "actionjournal";
        }

        @Override
        public void start(Listener2 listener) {
          listener.onResult(ResolutionResult.newBuilder().setAddresses(groups).build());
        }

        @Override
        public void shutdown() {}
      };
    }
  }

  @Test
  void callsSpreadOverEveryAddressTheTargetResolvesTo(@TempDir Path dir) throws Exception {
    NameResolverRegistry.getDefaultRegistry().register(new StaticResolverProvider());
    int calls = 40;
    try (TestServer a = TestServer.start(dir.resolve("a"), "--metrics-listen=127.0.0.1:0");
        TestServer b = TestServer.start(dir.resolve("b"), "--metrics-listen=127.0.0.1:0")) {
      try (GrpcJournalClient client =
          new GrpcJournalClient("aj-static:///" + a.target + "," + b.target)) {
        for (int i = 0; i < calls; i++) {
          client.appendAction(
              AppendActionRequest.newBuilder()
                  .setRecord(
                      RecordId.newBuilder()
                          .setJobId("balance")
                          .setRecordKey(ByteString.copyFromUtf8("k"))
                          .setSeqNum(1))
                  .setActionKey("a" + i)
                  .setCompletion(Completion.newBuilder().setState(ByteString.copyFromUtf8("v")))
                  .build());
        }
      }
      for (TestServer s : List.of(a, b)) {
        double n = s.metric("actionjournal_requests_total");
        assertTrue(n >= 10, "a server answered " + n + " of " + calls + " calls: no balancing");
      }
    }
  }
}
