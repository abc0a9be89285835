#!/bin/sh
# ODL promotion, triggered by OPNFV's confidence events: take the newest ODL build whose
# OPNFV confidence in force is SUCCESS (through the baseline holding it) and stamp it with
# ODL's own confidence, signed by ODL, so others can pick that build with more confidence.
set -eu
NAME=$(fedci-node get "$FEDCI_EVENT_ID" --field data.name)
TAB=$(printf '\t')
if ! PICK=$(fedci-node artifacts --community odl --confidence "$NAME=SUCCESS" --issuer opnfv \
  --latest --field id --field version --field "confidence.$NAME"); then
  echo "OPNFV $NAME: no ODL build passed; nothing to promote"
  exit 0
fi
IFS="$TAB" read -r ARTIFACT VERSION BASIS <<END
$PICK
END
if [ "$BASIS" != "$FEDCI_EVENT_ID" ]; then
  echo "OPNFV $NAME: this event is not what is in force for OpenDaylight $VERSION; nothing to promote"
  exit 0
fi
STAMP=$(fedci-node publish --kind confidence.modified --link "SUBJECT=$ARTIFACT" \
  --link "CONFIDENCE_BASIS=$BASIS" \
  --data "{\"name\": \"$NAME\", \"value\": \"SUCCESS\", \"issuer\": \"odl\"}")
echo "promoted OpenDaylight $VERSION: passed OPNFV $NAME -> confidence.modified $STAMP"
