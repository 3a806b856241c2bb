#!/usr/bin/env bash
# Makes a throwaway PKI for tests and trials: a CA, a host (vdsm) certificate and an engine client certificate,
# plus a second, unrelated CA with a client certificate that vdsmd must refuse.
#   scripts/gen-pki.sh DIR
# Writes DIR/{ca,other-ca}.pem, DIR/{vdsm,engine,stranger}{-key,}.pem. Keys are mode 0600.
set -euo pipefail
dir=${1:?usage: gen-pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
days=30
subj() { printf '/O=vdsm-ts test/CN=%s' "$1"; }

ca() { # name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
    -subj "$(subj "$1")" -keyout "$1-key.pem" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() { # name ca usage [san]
  local name=$1 issuer=$2 usage=$3 san=${4:-}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$(subj "$name")" \
    -keyout "$name-key.pem" -out "$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer-key.pem" -CAcreateserial \
    -days "$days" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca
ca other-ca
leaf vdsm ca serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf engine ca clientAuth
leaf stranger other-ca clientAuth
rm -f ./*.srl
chmod 0644 ./*.pem
chmod 0600 ./*-key.pem
