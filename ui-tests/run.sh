#!/bin/sh
# Run the UI tests (Galata/Playwright in Debian's chromium, against a real sshd).
#
#   sh ui-tests/run.sh                       # every spec
#   sh ui-tests/run.sh tests/remote.spec.ts  # extra arguments go to `playwright test`
#   SCREENSHOTS=1 sh ui-tests/run.sh tests/screenshots.spec.ts   # refresh docs/screenshots
#
# Needs: the Python environment in ../.venv (`make install`: jupyterlab,
# jupyterlab-remote editable), Node.js >= 20.19, /usr/bin/chromium and
# /usr/sbin/sshd (scripts/system-deps.sh). It writes ui-tests/.yarnrc.yml,
# installs the npm packages of ui-tests/ from its yarn.lock, builds the
# labextension (skip with UI_TESTS_SKIP_BUILD=1) and runs the tests.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if [ -x "$root/.venv/bin/jupyter" ]; then
    PATH="$root/.venv/bin:$PATH"
    export PATH
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

for tool in jlpm jupyter /usr/bin/chromium /usr/sbin/sshd; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "ui-tests/run.sh: $tool not found (make install; scripts/system-deps.sh)" >&2
        exit 1
    fi
done

if [ "${UI_TESTS_SKIP_BUILD:-}" != "1" ]; then
    sh "$root/labextension/jlpm.sh" install --immutable >/dev/null
    sh "$root/labextension/jlpm.sh" build >/dev/null
fi

if [ ! -f "$here/.yarnrc.yml" ]; then
    sh "$root/labextension/yarnrc.sh" "$here" >&2
fi
cd "$here"
jlpm install --immutable >/dev/null
# the specs are TypeScript strict too: a type error fails the run before a browser starts
jlpm typecheck
exec jlpm playwright test "$@"
