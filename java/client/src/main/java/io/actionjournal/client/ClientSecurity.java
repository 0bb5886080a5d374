package io.actionjournal.client;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Map;

/**
 * How a client proves who it is and checks whom it talks to, the same settings as the C++ client
 * and the CLI: TLS (the CA of the server's certificate), mutual TLS (the client's certificate and
 * key, PEM, the key in PKCS#8), and a bearer token read from a file. Immutable; {@link #NONE} is
 * plaintext without a token (a sidecar on loopback without tokens).
 *
 * <p>The token is read from its file, never passed as a string, so that it stays out of
 * configuration dumps; it never appears in an exception message or a log line.
 */
public final class ClientSecurity implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final ClientSecurity NONE = new ClientSecurity(null, null, null, null);

  private final String caFile;
  private final String certFile;
  private final String keyFile;
  private final String tokenFile;

  private ClientSecurity(String caFile, String certFile, String keyFile, String tokenFile) {
    this.caFile = caFile;
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.tokenFile = tokenFile;
  }

  /** Same files, same settings (so that clients of equal settings may share a connection). */
  @Override
  public boolean equals(Object o) {
    if (!(o instanceof ClientSecurity)) return false;
    ClientSecurity c = (ClientSecurity) o;
    return java.util.Objects.equals(caFile, c.caFile)
        && java.util.Objects.equals(certFile, c.certFile)
        && java.util.Objects.equals(keyFile, c.keyFile)
        && java.util.Objects.equals(tokenFile, c.tokenFile);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(caFile, certFile, keyFile, tokenFile);
  }

  /** TLS, trusting the CA bundle in {@code caFile} (PEM). */
  public ClientSecurity withTls(String caFile) {
    return new ClientSecurity(caFile, certFile, keyFile, tokenFile);
  }

  /** Mutual TLS: presents this certificate chain and key (PEM). Needs {@link #withTls}. */
  public ClientSecurity withClientCertificate(String certFile, String keyFile) {
    return new ClientSecurity(caFile, certFile, keyFile, tokenFile);
  }

  /** Sends the token in {@code tokenFile} as {@code authorization: Bearer <token>}. */
  public ClientSecurity withTokenFile(String tokenFile) {
    return new ClientSecurity(caFile, certFile, keyFile, tokenFile);
  }

  /**
   * From configuration keys, else the environment: actionjournal.tls-ca-file
   * (ACTIONJOURNAL_TLS_CA_FILE), actionjournal.tls-cert-file (ACTIONJOURNAL_TLS_CERT_FILE),
   * actionjournal.tls-key-file (ACTIONJOURNAL_TLS_KEY_FILE), actionjournal.token-file
   * (ACTIONJOURNAL_TOKEN_FILE).
   */
  public static ClientSecurity fromMap(Map<String, String> conf, Map<String, String> env) {
    ClientSecurity s =
        new ClientSecurity(
            get(conf, env, "actionjournal.tls-ca-file", "ACTIONJOURNAL_TLS_CA_FILE"),
            get(conf, env, "actionjournal.tls-cert-file", "ACTIONJOURNAL_TLS_CERT_FILE"),
            get(conf, env, "actionjournal.tls-key-file", "ACTIONJOURNAL_TLS_KEY_FILE"),
            get(conf, env, "actionjournal.token-file", "ACTIONJOURNAL_TOKEN_FILE"));
    s.check();
    return s;
  }

  /** The CA file, or null for plaintext. */
  public String caFile() {
    return caFile;
  }

  public String certFile() {
    return certFile;
  }

  public String keyFile() {
    return keyFile;
  }

  public String tokenFile() {
    return tokenFile;
  }

  /** IllegalArgumentException naming the setting when the settings do not go together. */
  void check() {
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException(
          "tls-cert-file and tls-key-file go together: give both or neither");
    }
    if (certFile != null && caFile == null) {
      throw new IllegalArgumentException("tls-cert-file needs tls-ca-file (TLS)");
    }
  }

  /** The token in the file: its one line, trimmed; the message names the file, never the token. */
  static String readToken(String tokenFile) {
    String token;
    try {
      token = new String(Files.readAllBytes(Paths.get(tokenFile)), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new IllegalArgumentException("token-file: cannot read " + tokenFile);
    }
    if (token.isEmpty() || !token.chars().allMatch(c -> c > ' ' && c <= '~')) {
      throw new IllegalArgumentException(
          "token-file: " + tokenFile + " must hold one token of visible ASCII characters");
    }
    return token;
  }

  private static String get(
      Map<String, String> conf, Map<String, String> env, String key, String var) {
    String v = conf.get(key);
    if (v == null || v.isEmpty()) v = env.get(var);
    return v == null || v.trim().isEmpty() ? null : v.trim();
  }
}
