#!/usr/bin/env bash
# Test certificates, made fresh by every test that needs them (never
# committed): a CA, a server certificate for 127.0.0.1 and localhost, two
# client certificates (client-a, client-b), and a second, unrelated CA with a
# server and a client certificate of its own ("wrong-").
# usage: make_certs.sh DIR      (EC P-256 keys, PKCS#8 PEM, 2 days)
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -days 2 -subj "/CN=$1" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem" 2>/dev/null
}

leaf() {  # leaf CA NAME CN EXTENSIONS
  key "$2.key"
  openssl req -new -key "$2.key" -subj "/CN=$3" -out "$2.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "$4" >"$2.ext"
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial \
    -days 2 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
  rm -f "$2.csr" "$2.ext"
}

server_ext="extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
ca ca
leaf ca server actionjournal-server "$server_ext"
leaf ca client-a client-a "extendedKeyUsage=clientAuth"
leaf ca client-b client-b "extendedKeyUsage=clientAuth"
ca wrong-ca
leaf wrong-ca wrong-server actionjournal-server "$server_ext"
leaf wrong-ca wrong-client client-a "extendedKeyUsage=clientAuth"
# A server certificate for another name, signed by the right CA.
leaf ca other-name other.example "extendedKeyUsage=serverAuth
subjectAltName=DNS:other.example"
chmod 600 ./*.key
