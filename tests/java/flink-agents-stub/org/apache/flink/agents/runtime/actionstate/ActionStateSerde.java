package org.apache.flink.agents.runtime.actionstate;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;

/** Test stand-in for Flink Agents' ActionStateSerde (Java serialization, not Kryo/JSON). */
public final class ActionStateSerde {
  private ActionStateSerde() {}

  public static byte[] serialize(ActionState state) {
    try (ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(state);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new RuntimeException("Failed to serialize ActionState", e);
    }
  }

  public static ActionState deserialize(byte[] data) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(data))) {
      return (ActionState) in.readObject();
    } catch (IOException | ClassNotFoundException e) {
      throw new RuntimeException("Failed to deserialize ActionState", e);
    }
  }
}
