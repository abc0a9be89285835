#!/bin/sh
# OpenStack release job: a release was built and passed OpenStack's own gate, so it is the
# "latest verified OpenStack" others may compose with.
# Needs: fedci-node on PATH, FEDCI_HOME = the OpenStack node's home.
set -eu
RELEASE=${RELEASE:-queens}
VERSION=${VERSION:-17.0.0}
BUILD_URL=${BUILD_URL:-https://zuul.openstack.org/builds/release-$RELEASE-$VERSION}

ARTIFACT=$(fedci-node publish --kind artifact.created --data "{
  \"identity\": \"pkg:generic/openstack-$RELEASE@$VERSION\",
  \"name\": \"openstack-$RELEASE\", \"version\": \"$VERSION\",
  \"branch\": \"stable/$RELEASE\", \"build_url\": \"$BUILD_URL\"}")
echo "released OpenStack $RELEASE $VERSION -> artifact.created $ARTIFACT"

VERIFIED=$(fedci-node publish --kind confidence.modified --link "SUBJECT=$ARTIFACT" --data '{
  "name": "openstackVerified", "value": "SUCCESS", "issuer": "openstack-zuul"}')
echo "gate passed -> confidence.modified openstackVerified=SUCCESS $VERIFIED"
