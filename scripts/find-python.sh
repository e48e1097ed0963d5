#!/usr/bin/env bash
# Print the path of a Python interpreter of version $1 (e.g. 3.12): `pythonX.Y` on PATH when it runs,
# else one that pyenv has installed. Exits 1, naming the fix, when neither has it.
set -euo pipefail
version="${1:?usage: find-python.sh 3.12}"
if command -v "python$version" >/dev/null 2>&1 && "python$version" -c '' >/dev/null 2>&1; then
    command -v "python$version"
    exit 0
fi
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for candidate in "$root"/versions/"$version".*/bin/python"$version"; do
    if [ -x "$candidate" ]; then
        echo "$candidate"
        exit 0
    fi
done
echo "find-python: no Python $version on PATH or in $root/versions: install it (pyenv install $version)" >&2
exit 1
