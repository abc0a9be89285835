#!/bin/sh
# OPNFV deploy-and-test job, triggered by each new baseline (composition.defined): deploy the
# composed platform, run the acceptance tests, and say what confidence the baseline (and the
# artifacts in it) earned.
set -eu
NAME=$(fedci-node get "$FEDCI_EVENT_ID" --field data.name)
JOB="opnfv-deploy-test-$NAME"

RUN=$(fedci-node publish --kind activity.triggered --link "CAUSE=$FEDCI_EVENT_ID" --data "{\"name\": \"$JOB\"}")
fedci-node publish --kind activity.started --link "ACTIVITY_EXECUTION=$RUN" --data "{\"name\": \"$JOB\"}" >/dev/null
echo "deploying baseline $NAME and running functest (activity $RUN)"
# (a real job deploys and tests here)
OUTCOME=${OPNFV_TEST_OUTCOME:-SUCCESS}
DONE=$(fedci-node publish --kind activity.finished --link "ACTIVITY_EXECUTION=$RUN" \
  --data "{\"name\": \"$JOB\", \"outcome\": \"$OUTCOME\"}")

# Subjects: the baseline and every artifact in it.
SUBJECTS="--link SUBJECT=$FEDCI_EVENT_ID"
for ELEMENT in $(fedci-node get "$FEDCI_EVENT_ID" --field links.ELEMENT); do
  SUBJECTS="$SUBJECTS --link SUBJECT=$ELEMENT"
done
# shellcheck disable=SC2086 # SUBJECTS is a list of flags
CONFIDENCE=$(fedci-node publish --kind confidence.modified $SUBJECTS --link "CONFIDENCE_BASIS=$DONE" \
  --data "{\"name\": \"opnfvAcceptance\", \"value\": \"$OUTCOME\", \"issuer\": \"opnfv\"}")
echo "tests finished: $OUTCOME -> confidence.modified opnfvAcceptance=$OUTCOME $CONFIDENCE"
