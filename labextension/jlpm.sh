#!/bin/sh
# Run jlpm in labextension/, writing .yarnrc.yml first if it is missing.
# Without that file yarn 3 falls back to Plug'n'Play, which the JupyterLab
# builder cannot use. Meant for hatch-jupyter-builder:
#   npm = ["sh", "jlpm.sh"]   (in [tool.hatch.build.hooks.jupyter-builder.build-kwargs])
# Usage: sh labextension/jlpm.sh install | sh labextension/jlpm.sh run build:prod
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$here/.yarnrc.yml" ]; then
    sh "$here/yarnrc.sh" >&2
fi
cd "$here"
exec jlpm "$@"
