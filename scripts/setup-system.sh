#!/usr/bin/env bash
# Debian packages codeja needs: bubblewrap for the sandbox and the toolchains the sandbox runs
# model-written programs with. Installed only when run as root with apt-get available; otherwise we
# say what is missing and go on (the sandbox then reports `toolchain-missing`, never a model failure).
set -uo pipefail
# Sandbox (see src/codeja/sandbox/__init__.py): bubblewrap + prlimit (util-linux) for isolation; toolchains:
# python3, nodejs, node-typescript (tsc), default-jdk-headless, g++ + libssl-dev (HumanEval-X md5), golang-go +
# golang-github-stretchr-testify-dev (HumanEvalPack Go tests), rustc + cargo + librust-{rand,regex,md5}-dev
# (HumanEvalPack Rust declarations `use` these crates; prebuilt once offline), bash.
# MultiPL-E's other languages, as its evaluation container has them: C# (mono-mcs + mono-runtime +
# System.Numerics), D (ldc: MultiPL-E uses dmd's rdmd, not in Debian), Lua 5.3 + luaunit, PHP, Perl + Test::Deep,
# R, Ruby (test-unit comes with it), Racket (rackunit), Scala 2.11. Julia and Swift have no Debian 12 package
# (the sandbox reports toolchain-missing for them). Measured on a Debian 12 machine: 56 packages, 181 MB to
# download, 614 MB installed, 182 s of apt-get on a loaded 2-core machine (racket alone: 390 MB, 110 s).
# Reports: a Japanese font so Japanese in plots and report.html is not drawn as boxes (fonts-ipaexfont-gothic:
# 3.3 MB download, 6 MB installed, 12 s; fonts-noto-cjk would be 57 MB / 91 MB) and fontconfig, which finds it.
# curl: the docs' server examples (run by tests/docs) wait for a server with it.
PKGS=(bubblewrap util-linux python3 nodejs node-typescript default-jdk-headless g++ libssl-dev libboost-dev golang-go
      golang-github-stretchr-testify-dev rustc cargo librust-rand-dev librust-regex-dev librust-md5-dev
      librust-aho-corasick-dev librust-memchr-dev bash
      mono-mcs mono-runtime libmono-system-numerics4.0-cil ldc lua5.3 lua-unit php-cli perl libtest-deep-perl
      r-base-core ruby racket scala
      fonts-ipaexfont-gothic fontconfig curl)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || echo "warning: apt-get could not install: ${missing[*]}" >&2
else
  echo "note: not root; please install these Debian packages: ${missing[*]}" >&2
fi
exit 0
