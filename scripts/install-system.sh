#!/usr/bin/env bash
# Debian packages babelstream needs at run time and in tests. Installs only what is missing, so a
# machine that has them pays nothing; `apt-get update` runs only when something must be installed.
set -euo pipefail

packages=(
  espeak-ng            # speech synthesis, every language (the default TTS engine)
  apertium             # rule-based machine translation runtime
  apertium-eng-spa     # English <-> Spanish (the operator's default pair)
  apertium-eng-cat     # English <-> Catalan
  apertium-spa-cat     # Spanish <-> Catalan
  apertium-fr-es       # French <-> Spanish
  apertium-es-pt       # Spanish <-> Portuguese
  sox                  # audio checks in tests
  chromium             # the browser end-to-end test (headless)
  fonts-liberation     # so page screenshots look the same on every machine
  default-jre-headless # the Kafka broker (Java 17+)
  maven                # resolves the Kafka broker jars from Maven Central
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "[install] Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
