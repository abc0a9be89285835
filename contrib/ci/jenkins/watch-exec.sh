#!/bin/sh
# Runs trigger-jenkins.sh for every new ODL artifact; the durable consumer resumes where it
# left off after a restart. Run it as a service next to the node, as a user that reaches the
# CI socket (extra arguments go to `watch`, e.g. --count 1).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec fedci-node watch --community odl --kind artifact.created --consumer jenkins-trigger \
    --exec "$here/trigger-jenkins.sh" "$@"
