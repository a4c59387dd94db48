#!/usr/bin/env bash
# Sourced by kafka.sh and redis.sh: a local CA and one server certificate for 127.0.0.1 and
# localhost, made with openssl once per state directory and shared by both servers; and the
# users each script keeps in its credentials file.
#
#   ensure_tls DIR   writes DIR/{ca.pem,ca.key,server.crt,server.key,server-keystore.pem}
#                    when missing (server-keystore.pem: the key and the certificate in one PEM
#                    file, the form Kafka's ssl.keystore.type=PEM reads)
#
# Clients trust DIR/ca.pem (STOCKSYNC_KAFKA_CA_FILE, STOCKSYNC_REDIS_CA_FILE). To rotate,
# stop both servers, delete DIR and start them again (see docs/security.md).

TLS_DAYS="${STOCKSYNC_TLS_DAYS:-825}"

ensure_tls() {
  local dir="$1"
  command -v openssl >/dev/null 2>&1 || { echo "tls.sh: ERROR: openssl not found (needed for the local certificates)" >&2; return 1; }
  mkdir -p "$dir"
  # Kafka and Redis may start together: one of them makes the certificates.
  exec 7>"$dir/.lock"
  if command -v flock >/dev/null 2>&1; then flock 7; fi
  if [[ -s "$dir/ca.pem" && -s "$dir/server.crt" && -s "$dir/server-keystore.pem" ]]; then
    exec 7>&-
    return 0
  fi
  echo "tls.sh: making a local CA and a server certificate for 127.0.0.1/localhost in $dir" >&2
  local ext="$dir/server.ext" out="$dir/openssl.log"
  (
    umask 077
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days "$TLS_DAYS" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" -subj "/CN=StockSync local CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" >"$out" 2>&1
    openssl req -new -nodes -newkey rsa:2048 -sha256 \
      -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" >>"$out" 2>&1
    printf '%s\n' "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth,clientAuth" \
      "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      "authorityKeyIdentifier=keyid" >"$ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days "$TLS_DAYS" -sha256 -extfile "$ext" -out "$dir/server.crt" >>"$out" 2>&1
    cat "$dir/server.key" "$dir/server.crt" >"$dir/server-keystore.pem"
  ) || { tail -n 20 "$out" >&2; exec 7>&-; echo "tls.sh: ERROR: openssl failed (see $out)" >&2; return 1; }
  chmod 644 "$dir/ca.pem" "$dir/server.crt"
  rm -f "$dir/server.csr" "$ext"
  exec 7>&-
}

# keep_credentials FILE USER_VAR PASSWORD_VAR: load the users kept in FILE; fails when the
# environment asks for another user or password than the kept ones (they are fixed once made).
keep_credentials() {
  local file="$1" user_var="$2" password_var="$3"
  local wanted_user="${!user_var:-}" wanted_password="${!password_var:-}"
  # shellcheck source=/dev/null
  source "$file"
  [[ -z "$wanted_user" || "$wanted_user" == "${!user_var}" ]] &&
    [[ -z "$wanted_password" || "$wanted_password" == "${!password_var}" ]]
}

# A random password for a local user (letters and digits only: safe in URLs and JAAS).
random_password() {
  openssl rand -hex 24
}
