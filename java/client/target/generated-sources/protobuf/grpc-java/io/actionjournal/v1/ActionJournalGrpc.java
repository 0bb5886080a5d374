package io.actionjournal.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class ActionJournalGrpc {

  private ActionJournalGrpc() {}

  public static final java.lang.String SERVICE_NAME = "actionjournal.v1.ActionJournal";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.BeginRecordRequest,
      io.actionjournal.v1.BeginRecordResponse> getBeginRecordMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "BeginRecord",
      requestType = io.actionjournal.v1.BeginRecordRequest.class,
      responseType = io.actionjournal.v1.BeginRecordResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.BeginRecordRequest,
      io.actionjournal.v1.BeginRecordResponse> getBeginRecordMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.BeginRecordRequest, io.actionjournal.v1.BeginRecordResponse> getBeginRecordMethod;
    if ((getBeginRecordMethod = ActionJournalGrpc.getBeginRecordMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getBeginRecordMethod = ActionJournalGrpc.getBeginRecordMethod) == null) {
          ActionJournalGrpc.getBeginRecordMethod = getBeginRecordMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.BeginRecordRequest, io.actionjournal.v1.BeginRecordResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "BeginRecord"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.BeginRecordRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.BeginRecordResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("BeginRecord"))
              .build();
        }
      }
    }
    return getBeginRecordMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionRequest,
      io.actionjournal.v1.AppendActionResponse> getAppendActionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "AppendAction",
      requestType = io.actionjournal.v1.AppendActionRequest.class,
      responseType = io.actionjournal.v1.AppendActionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionRequest,
      io.actionjournal.v1.AppendActionResponse> getAppendActionMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionRequest, io.actionjournal.v1.AppendActionResponse> getAppendActionMethod;
    if ((getAppendActionMethod = ActionJournalGrpc.getAppendActionMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getAppendActionMethod = ActionJournalGrpc.getAppendActionMethod) == null) {
          ActionJournalGrpc.getAppendActionMethod = getAppendActionMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.AppendActionRequest, io.actionjournal.v1.AppendActionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "AppendAction"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.AppendActionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.AppendActionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("AppendAction"))
              .build();
        }
      }
    }
    return getAppendActionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionsRequest,
      io.actionjournal.v1.AppendActionsResponse> getAppendActionsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "AppendActions",
      requestType = io.actionjournal.v1.AppendActionsRequest.class,
      responseType = io.actionjournal.v1.AppendActionsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionsRequest,
      io.actionjournal.v1.AppendActionsResponse> getAppendActionsMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.AppendActionsRequest, io.actionjournal.v1.AppendActionsResponse> getAppendActionsMethod;
    if ((getAppendActionsMethod = ActionJournalGrpc.getAppendActionsMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getAppendActionsMethod = ActionJournalGrpc.getAppendActionsMethod) == null) {
          ActionJournalGrpc.getAppendActionsMethod = getAppendActionsMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.AppendActionsRequest, io.actionjournal.v1.AppendActionsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "AppendActions"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.AppendActionsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.AppendActionsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("AppendActions"))
              .build();
        }
      }
    }
    return getAppendActionsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.LookupActionRequest,
      io.actionjournal.v1.LookupActionResponse> getLookupActionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "LookupAction",
      requestType = io.actionjournal.v1.LookupActionRequest.class,
      responseType = io.actionjournal.v1.LookupActionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.LookupActionRequest,
      io.actionjournal.v1.LookupActionResponse> getLookupActionMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.LookupActionRequest, io.actionjournal.v1.LookupActionResponse> getLookupActionMethod;
    if ((getLookupActionMethod = ActionJournalGrpc.getLookupActionMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getLookupActionMethod = ActionJournalGrpc.getLookupActionMethod) == null) {
          ActionJournalGrpc.getLookupActionMethod = getLookupActionMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.LookupActionRequest, io.actionjournal.v1.LookupActionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "LookupAction"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.LookupActionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.LookupActionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("LookupAction"))
              .build();
        }
      }
    }
    return getLookupActionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.CompleteRecordRequest,
      io.actionjournal.v1.CompleteRecordResponse> getCompleteRecordMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CompleteRecord",
      requestType = io.actionjournal.v1.CompleteRecordRequest.class,
      responseType = io.actionjournal.v1.CompleteRecordResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.CompleteRecordRequest,
      io.actionjournal.v1.CompleteRecordResponse> getCompleteRecordMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.CompleteRecordRequest, io.actionjournal.v1.CompleteRecordResponse> getCompleteRecordMethod;
    if ((getCompleteRecordMethod = ActionJournalGrpc.getCompleteRecordMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getCompleteRecordMethod = ActionJournalGrpc.getCompleteRecordMethod) == null) {
          ActionJournalGrpc.getCompleteRecordMethod = getCompleteRecordMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.CompleteRecordRequest, io.actionjournal.v1.CompleteRecordResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CompleteRecord"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.CompleteRecordRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.CompleteRecordResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("CompleteRecord"))
              .build();
        }
      }
    }
    return getCompleteRecordMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.PruneRequest,
      io.actionjournal.v1.PruneResponse> getPruneMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Prune",
      requestType = io.actionjournal.v1.PruneRequest.class,
      responseType = io.actionjournal.v1.PruneResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.PruneRequest,
      io.actionjournal.v1.PruneResponse> getPruneMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.PruneRequest, io.actionjournal.v1.PruneResponse> getPruneMethod;
    if ((getPruneMethod = ActionJournalGrpc.getPruneMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getPruneMethod = ActionJournalGrpc.getPruneMethod) == null) {
          ActionJournalGrpc.getPruneMethod = getPruneMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.PruneRequest, io.actionjournal.v1.PruneResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Prune"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.PruneRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.PruneResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("Prune"))
              .build();
        }
      }
    }
    return getPruneMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.ReadPayloadRequest,
      io.actionjournal.v1.ReadPayloadResponse> getReadPayloadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ReadPayload",
      requestType = io.actionjournal.v1.ReadPayloadRequest.class,
      responseType = io.actionjournal.v1.ReadPayloadResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.ReadPayloadRequest,
      io.actionjournal.v1.ReadPayloadResponse> getReadPayloadMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.ReadPayloadRequest, io.actionjournal.v1.ReadPayloadResponse> getReadPayloadMethod;
    if ((getReadPayloadMethod = ActionJournalGrpc.getReadPayloadMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getReadPayloadMethod = ActionJournalGrpc.getReadPayloadMethod) == null) {
          ActionJournalGrpc.getReadPayloadMethod = getReadPayloadMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.ReadPayloadRequest, io.actionjournal.v1.ReadPayloadResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ReadPayload"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.ReadPayloadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.ReadPayloadResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("ReadPayload"))
              .build();
        }
      }
    }
    return getReadPayloadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.actionjournal.v1.GetStatsRequest,
      io.actionjournal.v1.GetStatsResponse> getGetStatsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetStats",
      requestType = io.actionjournal.v1.GetStatsRequest.class,
      responseType = io.actionjournal.v1.GetStatsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.actionjournal.v1.GetStatsRequest,
      io.actionjournal.v1.GetStatsResponse> getGetStatsMethod() {
    io.grpc.MethodDescriptor<io.actionjournal.v1.GetStatsRequest, io.actionjournal.v1.GetStatsResponse> getGetStatsMethod;
    if ((getGetStatsMethod = ActionJournalGrpc.getGetStatsMethod) == null) {
      synchronized (ActionJournalGrpc.class) {
        if ((getGetStatsMethod = ActionJournalGrpc.getGetStatsMethod) == null) {
          ActionJournalGrpc.getGetStatsMethod = getGetStatsMethod =
              io.grpc.MethodDescriptor.<io.actionjournal.v1.GetStatsRequest, io.actionjournal.v1.GetStatsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetStats"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.GetStatsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.actionjournal.v1.GetStatsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ActionJournalMethodDescriptorSupplier("GetStats"))
              .build();
        }
      }
    }
    return getGetStatsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static ActionJournalStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ActionJournalStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ActionJournalStub>() {
        @java.lang.Override
        public ActionJournalStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ActionJournalStub(channel, callOptions);
        }
      };
    return ActionJournalStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static ActionJournalBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ActionJournalBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ActionJournalBlockingV2Stub>() {
        @java.lang.Override
        public ActionJournalBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ActionJournalBlockingV2Stub(channel, callOptions);
        }
      };
    return ActionJournalBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static ActionJournalBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ActionJournalBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ActionJournalBlockingStub>() {
        @java.lang.Override
        public ActionJournalBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ActionJournalBlockingStub(channel, callOptions);
        }
      };
    return ActionJournalBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static ActionJournalFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ActionJournalFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ActionJournalFutureStub>() {
        @java.lang.Override
        public ActionJournalFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ActionJournalFutureStub(channel, callOptions);
        }
      };
    return ActionJournalFutureStub.newStub(factory, channel);
  }

  /**
   */
  public interface AsyncService {

    /**
     * <pre>
     * Opens (or re-opens) a record and returns everything already journaled
     * for it, so that a replaying operator learns in one round trip what it
     * may skip. Creates the record if absent. Fencing: an attempt below the
     * stored one is refused with FAILED_PRECONDITION ("fenced"); a higher one
     * takes the record over; 0 is never fenced and changes nothing.
     * </pre>
     */
    default void beginRecord(io.actionjournal.v1.BeginRecordRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.BeginRecordResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getBeginRecordMethod(), responseObserver);
    }

    /**
     * <pre>
     * Journals one entry (a step or a completion) of one action. Idempotent:
     * a retry of the same request answers DUPLICATE with the stored entry.
     * </pre>
     */
    default void appendAction(io.actionjournal.v1.AppendActionRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getAppendActionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Many AppendAction requests, on any records, in one call: one answer per
     * item, in order, each with its own outcome or its own error. Items are
     * independent: one item's refusal never fails another. The server hands
     * the whole batch to one group commit. At most 1000 items (configurable)
     * and the request size limit; RESOURCE_EXHAUSTED (for the call) past them.
     * </pre>
     */
    default void appendActions(io.actionjournal.v1.AppendActionsRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getAppendActionsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reads one action's steps and completion. A miss is found=false, not an
     * error.
     * </pre>
     */
    default void lookupAction(io.actionjournal.v1.LookupActionRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.LookupActionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getLookupActionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Marks a record COMPLETED; idempotent. Later appends are refused.
     * </pre>
     */
    default void completeRecord(io.actionjournal.v1.CompleteRecordRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.CompleteRecordResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCompleteRecordMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes records of one job (and all their entries): by per-key sequence
     * number, by completion time, or the whole job.
     * </pre>
     */
    default void prune(io.actionjournal.v1.PruneRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.PruneResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPruneMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reads a stored payload (a step's result or error, or a completion's
     * state) that an answer left out (`omitted_bytes` &gt; 0), a chunk at a
     * time. NOT_FOUND when the entry does not exist.
     * </pre>
     */
    default void readPayload(io.actionjournal.v1.ReadPayloadRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.ReadPayloadResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getReadPayloadMethod(), responseObserver);
    }

    /**
     * <pre>
     * What the journal holds per job, counted from the database: records,
     * entries, payload bytes and the stored costs. Reads the jobs' rows: an
     * operator's call (actionjournal-cli stats), not one for every record.
     * </pre>
     */
    default void getStats(io.actionjournal.v1.GetStatsRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.GetStatsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetStatsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service ActionJournal.
   */
  public static abstract class ActionJournalImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return ActionJournalGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service ActionJournal.
   */
  public static final class ActionJournalStub
      extends io.grpc.stub.AbstractAsyncStub<ActionJournalStub> {
    private ActionJournalStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ActionJournalStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ActionJournalStub(channel, callOptions);
    }

    /**
     * <pre>
     * Opens (or re-opens) a record and returns everything already journaled
     * for it, so that a replaying operator learns in one round trip what it
     * may skip. Creates the record if absent. Fencing: an attempt below the
     * stored one is refused with FAILED_PRECONDITION ("fenced"); a higher one
     * takes the record over; 0 is never fenced and changes nothing.
     * </pre>
     */
    public void beginRecord(io.actionjournal.v1.BeginRecordRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.BeginRecordResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getBeginRecordMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Journals one entry (a step or a completion) of one action. Idempotent:
     * a retry of the same request answers DUPLICATE with the stored entry.
     * </pre>
     */
    public void appendAction(io.actionjournal.v1.AppendActionRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getAppendActionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Many AppendAction requests, on any records, in one call: one answer per
     * item, in order, each with its own outcome or its own error. Items are
     * independent: one item's refusal never fails another. The server hands
     * the whole batch to one group commit. At most 1000 items (configurable)
     * and the request size limit; RESOURCE_EXHAUSTED (for the call) past them.
     * </pre>
     */
    public void appendActions(io.actionjournal.v1.AppendActionsRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getAppendActionsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reads one action's steps and completion. A miss is found=false, not an
     * error.
     * </pre>
     */
    public void lookupAction(io.actionjournal.v1.LookupActionRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.LookupActionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getLookupActionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Marks a record COMPLETED; idempotent. Later appends are refused.
     * </pre>
     */
    public void completeRecord(io.actionjournal.v1.CompleteRecordRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.CompleteRecordResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCompleteRecordMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes records of one job (and all their entries): by per-key sequence
     * number, by completion time, or the whole job.
     * </pre>
     */
    public void prune(io.actionjournal.v1.PruneRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.PruneResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPruneMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reads a stored payload (a step's result or error, or a completion's
     * state) that an answer left out (`omitted_bytes` &gt; 0), a chunk at a
     * time. NOT_FOUND when the entry does not exist.
     * </pre>
     */
    public void readPayload(io.actionjournal.v1.ReadPayloadRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.ReadPayloadResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getReadPayloadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * What the journal holds per job, counted from the database: records,
     * entries, payload bytes and the stored costs. Reads the jobs' rows: an
     * operator's call (actionjournal-cli stats), not one for every record.
     * </pre>
     */
    public void getStats(io.actionjournal.v1.GetStatsRequest request,
        io.grpc.stub.StreamObserver<io.actionjournal.v1.GetStatsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetStatsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service ActionJournal.
   */
  public static final class ActionJournalBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<ActionJournalBlockingV2Stub> {
    private ActionJournalBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ActionJournalBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ActionJournalBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Opens (or re-opens) a record and returns everything already journaled
     * for it, so that a replaying operator learns in one round trip what it
     * may skip. Creates the record if absent. Fencing: an attempt below the
     * stored one is refused with FAILED_PRECONDITION ("fenced"); a higher one
     * takes the record over; 0 is never fenced and changes nothing.
     * </pre>
     */
    public io.actionjournal.v1.BeginRecordResponse beginRecord(io.actionjournal.v1.BeginRecordRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getBeginRecordMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Journals one entry (a step or a completion) of one action. Idempotent:
     * a retry of the same request answers DUPLICATE with the stored entry.
     * </pre>
     */
    public io.actionjournal.v1.AppendActionResponse appendAction(io.actionjournal.v1.AppendActionRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getAppendActionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Many AppendAction requests, on any records, in one call: one answer per
     * item, in order, each with its own outcome or its own error. Items are
     * independent: one item's refusal never fails another. The server hands
     * the whole batch to one group commit. At most 1000 items (configurable)
     * and the request size limit; RESOURCE_EXHAUSTED (for the call) past them.
     * </pre>
     */
    public io.actionjournal.v1.AppendActionsResponse appendActions(io.actionjournal.v1.AppendActionsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getAppendActionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads one action's steps and completion. A miss is found=false, not an
     * error.
     * </pre>
     */
    public io.actionjournal.v1.LookupActionResponse lookupAction(io.actionjournal.v1.LookupActionRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getLookupActionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Marks a record COMPLETED; idempotent. Later appends are refused.
     * </pre>
     */
    public io.actionjournal.v1.CompleteRecordResponse completeRecord(io.actionjournal.v1.CompleteRecordRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCompleteRecordMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes records of one job (and all their entries): by per-key sequence
     * number, by completion time, or the whole job.
     * </pre>
     */
    public io.actionjournal.v1.PruneResponse prune(io.actionjournal.v1.PruneRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPruneMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads a stored payload (a step's result or error, or a completion's
     * state) that an answer left out (`omitted_bytes` &gt; 0), a chunk at a
     * time. NOT_FOUND when the entry does not exist.
     * </pre>
     */
    public io.actionjournal.v1.ReadPayloadResponse readPayload(io.actionjournal.v1.ReadPayloadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getReadPayloadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * What the journal holds per job, counted from the database: records,
     * entries, payload bytes and the stored costs. Reads the jobs' rows: an
     * operator's call (actionjournal-cli stats), not one for every record.
     * </pre>
     */
    public io.actionjournal.v1.GetStatsResponse getStats(io.actionjournal.v1.GetStatsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service ActionJournal.
   */
  public static final class ActionJournalBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<ActionJournalBlockingStub> {
    private ActionJournalBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ActionJournalBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ActionJournalBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Opens (or re-opens) a record and returns everything already journaled
     * for it, so that a replaying operator learns in one round trip what it
     * may skip. Creates the record if absent. Fencing: an attempt below the
     * stored one is refused with FAILED_PRECONDITION ("fenced"); a higher one
     * takes the record over; 0 is never fenced and changes nothing.
     * </pre>
     */
    public io.actionjournal.v1.BeginRecordResponse beginRecord(io.actionjournal.v1.BeginRecordRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getBeginRecordMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Journals one entry (a step or a completion) of one action. Idempotent:
     * a retry of the same request answers DUPLICATE with the stored entry.
     * </pre>
     */
    public io.actionjournal.v1.AppendActionResponse appendAction(io.actionjournal.v1.AppendActionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getAppendActionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Many AppendAction requests, on any records, in one call: one answer per
     * item, in order, each with its own outcome or its own error. Items are
     * independent: one item's refusal never fails another. The server hands
     * the whole batch to one group commit. At most 1000 items (configurable)
     * and the request size limit; RESOURCE_EXHAUSTED (for the call) past them.
     * </pre>
     */
    public io.actionjournal.v1.AppendActionsResponse appendActions(io.actionjournal.v1.AppendActionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getAppendActionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads one action's steps and completion. A miss is found=false, not an
     * error.
     * </pre>
     */
    public io.actionjournal.v1.LookupActionResponse lookupAction(io.actionjournal.v1.LookupActionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getLookupActionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Marks a record COMPLETED; idempotent. Later appends are refused.
     * </pre>
     */
    public io.actionjournal.v1.CompleteRecordResponse completeRecord(io.actionjournal.v1.CompleteRecordRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCompleteRecordMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes records of one job (and all their entries): by per-key sequence
     * number, by completion time, or the whole job.
     * </pre>
     */
    public io.actionjournal.v1.PruneResponse prune(io.actionjournal.v1.PruneRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPruneMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads a stored payload (a step's result or error, or a completion's
     * state) that an answer left out (`omitted_bytes` &gt; 0), a chunk at a
     * time. NOT_FOUND when the entry does not exist.
     * </pre>
     */
    public io.actionjournal.v1.ReadPayloadResponse readPayload(io.actionjournal.v1.ReadPayloadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getReadPayloadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * What the journal holds per job, counted from the database: records,
     * entries, payload bytes and the stored costs. Reads the jobs' rows: an
     * operator's call (actionjournal-cli stats), not one for every record.
     * </pre>
     */
    public io.actionjournal.v1.GetStatsResponse getStats(io.actionjournal.v1.GetStatsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service ActionJournal.
   */
  public static final class ActionJournalFutureStub
      extends io.grpc.stub.AbstractFutureStub<ActionJournalFutureStub> {
    private ActionJournalFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ActionJournalFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ActionJournalFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Opens (or re-opens) a record and returns everything already journaled
     * for it, so that a replaying operator learns in one round trip what it
     * may skip. Creates the record if absent. Fencing: an attempt below the
     * stored one is refused with FAILED_PRECONDITION ("fenced"); a higher one
     * takes the record over; 0 is never fenced and changes nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.BeginRecordResponse> beginRecord(
        io.actionjournal.v1.BeginRecordRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getBeginRecordMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Journals one entry (a step or a completion) of one action. Idempotent:
     * a retry of the same request answers DUPLICATE with the stored entry.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.AppendActionResponse> appendAction(
        io.actionjournal.v1.AppendActionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getAppendActionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Many AppendAction requests, on any records, in one call: one answer per
     * item, in order, each with its own outcome or its own error. Items are
     * independent: one item's refusal never fails another. The server hands
     * the whole batch to one group commit. At most 1000 items (configurable)
     * and the request size limit; RESOURCE_EXHAUSTED (for the call) past them.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.AppendActionsResponse> appendActions(
        io.actionjournal.v1.AppendActionsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getAppendActionsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reads one action's steps and completion. A miss is found=false, not an
     * error.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.LookupActionResponse> lookupAction(
        io.actionjournal.v1.LookupActionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getLookupActionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Marks a record COMPLETED; idempotent. Later appends are refused.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.CompleteRecordResponse> completeRecord(
        io.actionjournal.v1.CompleteRecordRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCompleteRecordMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes records of one job (and all their entries): by per-key sequence
     * number, by completion time, or the whole job.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.PruneResponse> prune(
        io.actionjournal.v1.PruneRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPruneMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reads a stored payload (a step's result or error, or a completion's
     * state) that an answer left out (`omitted_bytes` &gt; 0), a chunk at a
     * time. NOT_FOUND when the entry does not exist.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.ReadPayloadResponse> readPayload(
        io.actionjournal.v1.ReadPayloadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getReadPayloadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * What the journal holds per job, counted from the database: records,
     * entries, payload bytes and the stored costs. Reads the jobs' rows: an
     * operator's call (actionjournal-cli stats), not one for every record.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.actionjournal.v1.GetStatsResponse> getStats(
        io.actionjournal.v1.GetStatsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetStatsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_BEGIN_RECORD = 0;
  private static final int METHODID_APPEND_ACTION = 1;
  private static final int METHODID_APPEND_ACTIONS = 2;
  private static final int METHODID_LOOKUP_ACTION = 3;
  private static final int METHODID_COMPLETE_RECORD = 4;
  private static final int METHODID_PRUNE = 5;
  private static final int METHODID_READ_PAYLOAD = 6;
  private static final int METHODID_GET_STATS = 7;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_BEGIN_RECORD:
          serviceImpl.beginRecord((io.actionjournal.v1.BeginRecordRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.BeginRecordResponse>) responseObserver);
          break;
        case METHODID_APPEND_ACTION:
          serviceImpl.appendAction((io.actionjournal.v1.AppendActionRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionResponse>) responseObserver);
          break;
        case METHODID_APPEND_ACTIONS:
          serviceImpl.appendActions((io.actionjournal.v1.AppendActionsRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.AppendActionsResponse>) responseObserver);
          break;
        case METHODID_LOOKUP_ACTION:
          serviceImpl.lookupAction((io.actionjournal.v1.LookupActionRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.LookupActionResponse>) responseObserver);
          break;
        case METHODID_COMPLETE_RECORD:
          serviceImpl.completeRecord((io.actionjournal.v1.CompleteRecordRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.CompleteRecordResponse>) responseObserver);
          break;
        case METHODID_PRUNE:
          serviceImpl.prune((io.actionjournal.v1.PruneRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.PruneResponse>) responseObserver);
          break;
        case METHODID_READ_PAYLOAD:
          serviceImpl.readPayload((io.actionjournal.v1.ReadPayloadRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.ReadPayloadResponse>) responseObserver);
          break;
        case METHODID_GET_STATS:
          serviceImpl.getStats((io.actionjournal.v1.GetStatsRequest) request,
              (io.grpc.stub.StreamObserver<io.actionjournal.v1.GetStatsResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getBeginRecordMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.BeginRecordRequest,
              io.actionjournal.v1.BeginRecordResponse>(
                service, METHODID_BEGIN_RECORD)))
        .addMethod(
          getAppendActionMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.AppendActionRequest,
              io.actionjournal.v1.AppendActionResponse>(
                service, METHODID_APPEND_ACTION)))
        .addMethod(
          getAppendActionsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.AppendActionsRequest,
              io.actionjournal.v1.AppendActionsResponse>(
                service, METHODID_APPEND_ACTIONS)))
        .addMethod(
          getLookupActionMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.LookupActionRequest,
              io.actionjournal.v1.LookupActionResponse>(
                service, METHODID_LOOKUP_ACTION)))
        .addMethod(
          getCompleteRecordMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.CompleteRecordRequest,
              io.actionjournal.v1.CompleteRecordResponse>(
                service, METHODID_COMPLETE_RECORD)))
        .addMethod(
          getPruneMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.PruneRequest,
              io.actionjournal.v1.PruneResponse>(
                service, METHODID_PRUNE)))
        .addMethod(
          getReadPayloadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.ReadPayloadRequest,
              io.actionjournal.v1.ReadPayloadResponse>(
                service, METHODID_READ_PAYLOAD)))
        .addMethod(
          getGetStatsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.actionjournal.v1.GetStatsRequest,
              io.actionjournal.v1.GetStatsResponse>(
                service, METHODID_GET_STATS)))
        .build();
  }

  private static abstract class ActionJournalBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    ActionJournalBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.actionjournal.v1.Journal.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("ActionJournal");
    }
  }

  private static final class ActionJournalFileDescriptorSupplier
      extends ActionJournalBaseDescriptorSupplier {
    ActionJournalFileDescriptorSupplier() {}
  }

  private static final class ActionJournalMethodDescriptorSupplier
      extends ActionJournalBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    ActionJournalMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (ActionJournalGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new ActionJournalFileDescriptorSupplier())
              .addMethod(getBeginRecordMethod())
              .addMethod(getAppendActionMethod())
              .addMethod(getAppendActionsMethod())
              .addMethod(getLookupActionMethod())
              .addMethod(getCompleteRecordMethod())
              .addMethod(getPruneMethod())
              .addMethod(getReadPayloadMethod())
              .addMethod(getGetStatsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
