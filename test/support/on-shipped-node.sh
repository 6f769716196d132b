#!/usr/bin/env bash
# The unit and e2e suites again, on the Node.js the Dockerfile ships (see shipped-node.ts), when this machine's
# Node is another major: the service must pass its tests on the runtime production runs. Needs `npm ci` done.
set -euo pipefail
cd "$(dirname "$0")/../.."

shipped="$(npx --no-install tsx test/support/shipped-node.ts)"
if [ "$shipped" = "$(command -v node)" ] || [ "$("$shipped" --version)" = "$(node --version)" ]; then
  echo "This machine's Node $(node --version) is the shipped major: the suites already ran on it."
  exit 0
fi
echo "Running the suites again on $("$shipped" --version), the Dockerfile's Node ($shipped)"
export PATH="$(dirname "$shipped"):$PATH"
npm run test:unit
npm run test:e2e
