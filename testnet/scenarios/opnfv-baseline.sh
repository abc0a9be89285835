#!/bin/sh
# OPNFV baseline generation, triggered by each new ODL artifact (fedci-node watch --exec):
# on the branch OPNFV follows, compose a candidate baseline of the latest verified OpenStack
# and this ODL distribution. The triggering event is FEDCI_EVENT_ID (its JSON is on stdin).
# Exit non-zero = try again later (the watcher retries with backoff; nothing is skipped).
set -eu
FOLLOW_BRANCH=${OPNFV_ODL_BRANCH:-stable/oxygen}
SCENARIO=os-odl-nofeature

BRANCH=$(fedci-node get "$FEDCI_EVENT_ID" --field data.branch)
if [ "$BRANCH" != "$FOLLOW_BRANCH" ]; then
  echo "ODL artifact on $BRANCH: not the branch OPNFV follows ($FOLLOW_BRANCH), ignored"
  exit 0
fi
ODL_VERSION=$(fedci-node get "$FEDCI_EVENT_ID" --field data.version)

# The latest verified OpenStack: the newest OpenStack artifact with openstackVerified=SUCCESS.
if ! LATEST=$(fedci-node artifacts --community openstack --confidence openstackVerified=SUCCESS \
  --latest --field id --field name --field version); then
  echo "no verified OpenStack release known yet; will retry"
  exit 1
fi
IFS=$(printf '\t') read -r OPENSTACK OS_NAME OS_VERSION <<END
$LATEST
END

VERSION="$OS_VERSION+odl-$ODL_VERSION"
BASELINE=$(fedci-node publish --kind composition.defined \
  --link "ELEMENT=$OPENSTACK" --link "ELEMENT=$FEDCI_EVENT_ID" --data "{
  \"name\": \"$SCENARIO\", \"version\": \"$VERSION\", \"scenario\": \"$SCENARIO\",
  \"metadata_url\": \"https://artifacts.opnfv.org/baselines/$SCENARIO/$VERSION.json\"}")
echo "composed baseline $SCENARIO = $OS_NAME $OS_VERSION + OpenDaylight $ODL_VERSION -> composition.defined $BASELINE"
