# TLS helpers for the black-box tests (sourced after lib.sh): a throwaway CA and the certificates
# the cases need, made with openssl in $WORK/pki at the start of a test.
#   ca.pem/ca.key        the CA (CN=parley test CA)
#   server.pem/.key      localhost, 127.0.0.1 and ::1, issued by the CA
#   other.pem/.key       other.example and www.other.example only (a wrong name for localhost)
#   expired.pem/.key     localhost, valid 2020-01-01 to 2021-01-01
#   client.pem/.key      a client certificate (CN=parley client), issued by the CA
#   rogue-ca.pem         another CA, which issued rogue.pem/.key for localhost (an unknown issuer)

make_pki() {
  PKI=$WORK/pki
  mkdir -p "$PKI" && (
    cd "$PKI" || exit 1
    q() { "$@" >/dev/null 2>&1 || { echo "openssl failed: $*" >&2; exit 1; }; }
    ca() {  # ca NAME SUBJECT
      q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -days 30 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    }
    leaf() {  # leaf NAME CN SAN USAGE ISSUER [openssl ca dates...]
      local name=$1 cn=$2 san=$3 usage=$4 issuer=$5
      shift 5
      printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$san" \
        "$usage" >"$name.ext"
      q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
        -out "$name.csr" -subj "/CN=$cn"
      if [ $# -eq 0 ]; then
        q openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
          -CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem"
      else  # Dates in the past need `openssl ca` (x509 -req only counts days from now).
        : >index.txt
        echo 01 >serial
        printf '%s\n' '[ca]' 'default_ca=d' '[d]' 'database=index.txt' 'new_certs_dir=.' \
          'serial=serial' 'default_md=sha256' 'policy=p' 'unique_subject=no' '[p]' \
          'commonName=supplied' >ca.cnf
        q openssl ca -batch -notext -config ca.cnf -cert "$issuer.pem" -keyfile "$issuer.key" \
          -in "$name.csr" -out "$name.pem" -extfile "$name.ext" "$@"
      fi
    }
    ca ca "parley test CA"
    ca rogue-ca "rogue CA"
    leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth ca
    leaf other other.example "DNS:other.example,DNS:www.other.example" serverAuth ca
    leaf expired localhost "DNS:localhost,IP:127.0.0.1" serverAuth ca \
      -startdate 20200101000000Z -enddate 20210101000000Z
    leaf client "parley client" "DNS:client.example" clientAuth ca
    leaf rogue localhost "DNS:localhost,IP:127.0.0.1" serverAuth rogue-ca
  ) || return 1
}

# fingerprint PEM: the certificate's SHA-256 fingerprint as --tls-pin takes it.
fingerprint() {
  openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
    tr 'A-F' 'a-f' | sed 's/^/sha256:/'
}

# start_s_server NAME ARGS...: `openssl s_server -quiet -naccept 1` on a free port of 127.0.0.1 in
# the background with stdin from $SRV_IN (default: a quiet FIFO), stdout in $WORK/NAME.out and
# stderr in $WORK/NAME.err; sets SPID and SPORT (the port is $S_PORT if that is set).
start_s_server() {
  local name=$1
  shift
  SPORT=${S_PORT:-$(free_port)}
  openssl s_server -quiet -naccept 1 -accept "127.0.0.1:$SPORT" "$@" \
    <"${SRV_IN:-$QUIET}" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SPID=$!
  BG_PIDS+=("$SPID")
  wait_port "$SPORT"
}
