#!/usr/bin/env bash
# Installs the Debian 12 packages llmbench needs to build and test, only those that are missing.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache git pkg-config
  libboost1.81-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libcli11-dev libfmt-dev
  libopenblas-dev libgtest-dev libpcre2-dev python3)
if [[ "${LLMBENCH_WITH_CLANG:-0}" == 1 ]]; then
  packages+=(clang clang-format libclang-rt-14-dev)
fi
if [[ "${LLMBENCH_WITH_BROWSER:-0}" == 1 ]]; then
  packages+=(chromium)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "llmbench: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
