#!/usr/bin/env bash
# The unit and e2e suites again, on the Node.js the Dockerfile ships (see shipped-node.ts), when this machine's
# Node is another major: the service must pass its tests on the runtime production runs. Needs `npm ci` done.
set -euo pipefail
cd "$(dirname "$0")/../.."

shipped="$(npx --no-install tsx test/support/shipped-node.ts)"
[ -x "$shipped" ] || { echo "no shipped node binary (got '$shipped')" >&2; exit 1; }
version="$("$shipped" --version)"
if [ "$version" = "$(node --version)" ]; then
  echo "This machine's Node $version is the shipped major: the suites already run on it."
  exit 0
fi
bash test/support/ensure-services.sh
dir="$(dirname "$shipped")"
export PATH="$dir:$PATH"
[ "$(node --version)" = "$version" ] || { echo "node on the PATH is $(node --version), not $version" >&2; exit 1; }
echo "Running the suites again on Node $version, the Dockerfile's ($shipped)"
npm run test:unit
npm run test:e2e
