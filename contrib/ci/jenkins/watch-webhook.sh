#!/bin/sh
# The same trigger without a script: each event is POSTed as a binary-mode CloudEvent
# (CDEvents body) to the Generic Webhook Trigger plugin of $JENKINS_URL, job token
# $JENKINS_WEBHOOK_TOKEN; retried until Jenkins answers 2xx.
set -eu
exec fedci-node watch --community odl --kind artifact.created --consumer jenkins-webhook \
    --post "$JENKINS_URL/generic-webhook-trigger/invoke?token=$JENKINS_WEBHOOK_TOKEN" "$@"
