#!/bin/sh
# Starts a Jenkins job for a fedci event; run by watch-exec.sh (`watch --exec`), which passes
# the event in FEDCI_EVENT_ID, FEDCI_EVENT_KIND, … Exits non-zero when Jenkins refuses, so
# the watcher retries with backoff and its cursor does not move (at-least-once).
#   JENKINS_URL    e.g. https://jenkins.opnfv.org
#   JENKINS_JOB    the job to start (see Jenkinsfile.triggered)
#   JENKINS_USER, JENKINS_TOKEN   a user and its API token
set -eu
curl -fsS -X POST --user "$JENKINS_USER:$JENKINS_TOKEN" \
    "$JENKINS_URL/job/$JENKINS_JOB/buildWithParameters?FEDCI_EVENT_ID=$FEDCI_EVENT_ID&FEDCI_EVENT_KIND=$FEDCI_EVENT_KIND"
