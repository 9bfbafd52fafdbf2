#!/usr/bin/env bash
# deps.sh: installs the Debian packages klabel's build, tests and demo need.
# Does nothing when all are present; otherwise apt-get install, as root or
# through sudo. Called by `make deps` (and so by `make demo` / `make test`).
set -euo pipefail

PKGS=(
  build-essential pkg-config
  binutils  # objdump: tests/unit/prefetch_check.sh (build-essential brings it too)
  librdkafka-dev libavro-dev libopenblas-dev libcjson-dev libcriterion-dev
  libutf8proc-dev libsodium-dev libmicrohttpd-dev libstemmer-dev
  libcurl4-openssl-dev  # Schema Registry client (plugin/http_client.c)
  libjemalloc-dev  # klabel's allocator (Makefile, MALLOC_LIBS)
  clang-14 libclang-rt-14-dev
  default-jdk-headless maven
  python3 python3-venv python3-pip
  unzip curl ca-certificates procps
  fasttext  # the fastText CLI: reference for `make bench-engine`
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# A JDK and Maven may already come with the machine outside dpkg.
if command -v java >/dev/null && command -v mvn >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in default-jdk-headless|maven) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
