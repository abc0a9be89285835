#!/bin/sh
# ODL promotion, triggered by OPNFV's confidence events: when OPNFV's acceptance passed for
# a baseline holding one of our artifacts, stamp our own artifact (signed by ODL), so others
# can pick that build with more confidence.
set -eu
VALUE=$(fedci-node get "$FEDCI_EVENT_ID" --field data.value)
NAME=$(fedci-node get "$FEDCI_EVENT_ID" --field data.name)
if [ "$VALUE" != "SUCCESS" ]; then
  echo "OPNFV $NAME=$VALUE: nothing to promote"
  exit 0
fi
for SUBJECT in $(fedci-node get "$FEDCI_EVENT_ID" --field links.SUBJECT); do
  COMMUNITY=$(fedci-node get "$SUBJECT" --field community 2>/dev/null || true)
  KIND=$(fedci-node get "$SUBJECT" --field kind 2>/dev/null || true)
  if [ "$COMMUNITY" = "odl" ] && [ "$KIND" = "artifact.created" ]; then
    VERSION=$(fedci-node get "$SUBJECT" --field data.version)
    STAMP=$(fedci-node publish --kind confidence.modified --link "SUBJECT=$SUBJECT" \
      --link "CONFIDENCE_BASIS=$FEDCI_EVENT_ID" \
      --data "{\"name\": \"$NAME\", \"value\": \"SUCCESS\", \"issuer\": \"odl\"}")
    echo "promoted OpenDaylight $VERSION: passed OPNFV $NAME -> confidence.modified $STAMP"
  fi
done
