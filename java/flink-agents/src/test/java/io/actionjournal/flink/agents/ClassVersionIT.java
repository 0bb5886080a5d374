package io.actionjournal.test;

import java.io.DataInputStream;
import java.io.IOException;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Every class in every shipped jar must load on Java 11 (class-file major version 55), and no
 * Flink Agents class (the test stand-in) may ship. usage: ClassVersionCheck JAR...
 */
public final class ClassVersionCheck {
  public static void main(String[] args) throws IOException {
    int failures = 0;
    for (String path : args) {
      int classes = 0;
      try (JarFile jar = new JarFile(path)) {
        for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
          JarEntry entry = e.nextElement();
          if (!entry.getName().endsWith(".class")) continue;
          classes++;
          if (entry.getName().startsWith("org/apache/flink/")) {
            System.out.println(path + ": ships " + entry.getName() + " (test stand-in)");
            failures++;
          }
          try (DataInputStream in = new DataInputStream(jar.getInputStream(entry))) {
            int magic = in.readInt();
            in.readUnsignedShort(); // minor
            int major = in.readUnsignedShort();
            if (magic != 0xCAFEBABE || major != 55) {
              System.out.println(path + ": " + entry.getName() + " has major version " + major);
              failures++;
            }
          }
        }
      }
      if (classes == 0) {
        System.out.println(path + ": no classes");
        failures++;
      }
      System.out.println(path + ": " + classes + " classes, Java 11 (55)");
    }
    if (failures > 0 || args.length == 0) {
      System.out.println("FAILED: " + failures + " problem(s)");
      System.exit(1);
    }
  }
}
