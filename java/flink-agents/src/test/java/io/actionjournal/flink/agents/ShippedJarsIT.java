package io.actionjournal.flink.agents;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packaged jars (after {@code package}, so a failsafe IT): every class loads on Java 11, the
 * thin jar holds only actionjournal's classes, and the shaded one holds no class outside
 * io.actionjournal (everything it carries relocated there) and none of Flink's or Flink Agents'.
 */
final class ShippedJarsIT {
  private static final int JAVA_11 = 55;

  private static List<Path> jars() throws IOException {
    Path target = Paths.get("target");
    try (Stream<Path> s = Files.list(target)) {
      return s.filter(p -> p.toString().endsWith(".jar") && !p.toString().contains("tests"))
          .sorted()
          .collect(Collectors.toList());
    }
  }

  /** Problems of one jar: class-file versions above Java 11, classes outside io/actionjournal. */
  private static List<String> problems(Path path) throws IOException {
    List<String> out = new ArrayList<>();
    int classes = 0;
    try (JarFile jar = new JarFile(path.toFile())) {
      for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
        JarEntry entry = e.nextElement();
        String name = entry.getName();
        // Multi-release variants load only on the Java they name.
        if (!name.endsWith(".class") || name.startsWith("META-INF/versions/")) continue;
        classes++;
        if (!name.startsWith("io/actionjournal/")) out.add(name + " is not relocated");
        try (DataInputStream in = new DataInputStream(jar.getInputStream(entry))) {
          int magic = in.readInt();
          in.readUnsignedShort();
          int major = in.readUnsignedShort();
          if (magic != 0xCAFEBABE || major > JAVA_11) out.add(name + ": class file " + major);
        }
      }
    }
    if (classes == 0) out.add("no classes");
    return out;
  }

  @Test
  void everyShippedClassLoadsOnJava11AndNothingClashesWithFlink() throws IOException {
    List<Path> jars = jars();
    assertEquals(2, jars.size(), "the thin and the shaded jar: " + jars);
    for (Path jar : jars) {
      List<String> p = problems(jar);
      assertTrue(p.isEmpty(), jar + ": " + p.subList(0, Math.min(20, p.size())));
    }
  }
}
