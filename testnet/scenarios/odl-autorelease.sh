#!/bin/sh
# ODL RelEng/Autorelease job, after a successful build of a distribution on a branch:
# say what happened (artifact.created) and where to get it (artifact.published).
# Needs: fedci-node on PATH, FEDCI_HOME = the ODL node's home.
set -eu
BRANCH=${BRANCH:-stable/oxygen}
VERSION=${VERSION:-0.8.3}
BUILD_NUMBER=${BUILD_NUMBER:-412}
BUILD_URL=${BUILD_URL:-https://jenkins.opendaylight.org/releng/job/autorelease-release-oxygen/$BUILD_NUMBER/}
LOCATION=https://nexus.opendaylight.org/content/repositories/autorelease-$BUILD_NUMBER/org/opendaylight/integration/karaf/$VERSION/karaf-$VERSION.tar.gz

ARTIFACT=$(fedci-node publish --kind artifact.created --data "{
  \"identity\": \"pkg:maven/org.opendaylight.integration/karaf@$VERSION\",
  \"name\": \"opendaylight\", \"version\": \"$VERSION\",
  \"branch\": \"$BRANCH\", \"build_url\": \"$BUILD_URL\"}")
echo "built OpenDaylight $VERSION on $BRANCH (build $BUILD_NUMBER) -> artifact.created $ARTIFACT"

PUBLISHED=$(fedci-node publish --kind artifact.published --link "ARTIFACT=$ARTIFACT" --data "{
  \"locations\": [{\"type\": \"nexus\", \"uri\": \"$LOCATION\"}]}")
echo "uploaded to Nexus $LOCATION -> artifact.published $PUBLISHED"
