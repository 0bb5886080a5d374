package org.apache.flink.agents.runtime.actionstate;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/** Test stand-in for Flink Agents' CallResult: one durable call's outcome. */
public class CallResult implements Serializable {
  private enum Status {
    PENDING,
    SUCCEEDED,
    FAILED
  }

  private final String functionId;
  private final String argsDigest;
  private final byte[] resultPayload;
  private final byte[] exceptionPayload;
  private final Status status;

  public CallResult(String functionId, String argsDigest, byte[] resultPayload) {
    this(functionId, argsDigest, resultPayload, null, Status.SUCCEEDED);
  }

  public CallResult(
      String functionId, String argsDigest, byte[] resultPayload, byte[] exceptionPayload) {
    this(
        functionId,
        argsDigest,
        resultPayload,
        exceptionPayload,
        exceptionPayload == null ? Status.SUCCEEDED : Status.FAILED);
  }

  private CallResult(
      String functionId, String argsDigest, byte[] result, byte[] exception, Status status) {
    this.functionId = functionId;
    this.argsDigest = argsDigest;
    this.resultPayload = result;
    this.exceptionPayload = exception;
    this.status = status;
  }

  public static CallResult pending(String functionId, String argsDigest) {
    return new CallResult(functionId, argsDigest, null, null, Status.PENDING);
  }

  public String getFunctionId() {
    return functionId;
  }

  public String getArgsDigest() {
    return argsDigest;
  }

  public byte[] getResultPayload() {
    return resultPayload;
  }

  public byte[] getExceptionPayload() {
    return exceptionPayload;
  }

  public boolean matches(String functionId, String argsDigest) {
    return Objects.equals(this.functionId, functionId)
        && Objects.equals(this.argsDigest, argsDigest);
  }

  public boolean isSuccess() {
    return status == Status.SUCCEEDED;
  }

  public boolean isFailure() {
    return status == Status.FAILED;
  }

  public boolean isPending() {
    return status == Status.PENDING;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof CallResult)) return false;
    CallResult c = (CallResult) o;
    return matches(c.functionId, c.argsDigest)
        && status == c.status
        && Arrays.equals(resultPayload, c.resultPayload)
        && Arrays.equals(exceptionPayload, c.exceptionPayload);
  }

  @Override
  public int hashCode() {
    return Objects.hash(functionId, argsDigest, status);
  }
}
