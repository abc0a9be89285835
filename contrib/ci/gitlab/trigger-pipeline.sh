#!/bin/sh
# Starts a GitLab pipeline for a fedci event; the event id reaches it as the variable
# FEDCI_EVENT_ID (job on-fedci-event). Exits non-zero when GitLab refuses, so the watcher
# retries (at-least-once). Run it from a watcher next to the node:
#   fedci-node watch --community odl --kind artifact.created --consumer gitlab-trigger \
#       --exec contrib/ci/gitlab/trigger-pipeline.sh
#   GITLAB_URL, GITLAB_PROJECT_ID, GITLAB_TRIGGER_TOKEN (a pipeline trigger token), GITLAB_REF
set -eu
curl -fsS -X POST \
    --form "token=$GITLAB_TRIGGER_TOKEN" \
    --form "ref=$GITLAB_REF" \
    --form "variables[FEDCI_EVENT_ID]=$FEDCI_EVENT_ID" \
    --form "variables[FEDCI_EVENT_KIND]=$FEDCI_EVENT_KIND" \
    "$GITLAB_URL/api/v4/projects/$GITLAB_PROJECT_ID/trigger/pipeline"
