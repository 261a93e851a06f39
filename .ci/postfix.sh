#!/usr/bin/env bash
# Postfix for tests/integration/test_postfix.py, installed from the distribution's
# packages when missing. Nothing is configured or started here: the test runs a private
# instance of its own (its own config and queue directories under /tmp, loopback ports),
# so the system's Postfix stays unconfigured and never listens on port 25.
set -euo pipefail

if command -v postfix >/dev/null 2>&1 || [[ -x /usr/sbin/postfix ]]; then
  echo "postfix: installed ($(/usr/sbin/postconf -h mail_version 2>/dev/null || echo '?'))"
  exit 0
fi

echo "postfix: not installed, installing postfix"
export DEBIAN_FRONTEND=noninteractive
# "No configuration": the package writes no main.cf, so no system instance can start.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
if ! apt-get install -y -q postfix; then
  echo "postfix: install failed, refreshing the package lists and retrying"
  apt-get update -q
  apt-get install -y -q postfix
fi
echo "postfix: installed ($(/usr/sbin/postconf -h mail_version 2>/dev/null || echo '?'))"
