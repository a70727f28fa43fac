#!/usr/bin/env bash
# Install the real Claude Code CLI (npm package @anthropic-ai/claude-code), pinned, into a
# project-local prefix, for the `realclaude` tests (tests/test_real_claude_boot.py).
#
#   bash .ci/install-claude.sh [PREFIX]      # PREFIX defaults to <repo>/.ci/claude (git-ignored)
#
# Idempotent: when PREFIX already holds the pinned version it does nothing but print it.
# Needs nothing but npm (and the node it runs on). Never touches ~/.claude: the version check
# runs with a throwaway HOME and CLAUDE_CONFIG_DIR.
set -euo pipefail

VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
PKG="@anthropic-ai/claude-code"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-$REPO/.ci/claude}"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-claude: npm not found on PATH" >&2
    exit 2
fi

mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
BIN="$PREFIX/node_modules/.bin/claude"
PKG_JSON="$PREFIX/node_modules/$PKG/package.json"

installed_version() {
    [ -f "$PKG_JSON" ] || return 0
    node -e 'try{process.stdout.write(String(require(process.argv[1]).version||""))}catch(e){}' "$PKG_JSON" 2>/dev/null || true
}

if [ "$(installed_version)" != "$VERSION" ] || [ ! -x "$BIN" ]; then
    echo "install-claude: installing $PKG@$VERSION into $PREFIX" >&2
    # A private package.json keeps npm from walking up into the repository.
    if [ ! -f "$PREFIX/package.json" ]; then
        printf '{\n  "name": "cockpit-ci-claude",\n  "private": true\n}\n' >"$PREFIX/package.json"
    fi
    # The CLI is a native binary shipped in a per-platform OPTIONAL dependency: never omit those.
    npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --include=optional \
        --loglevel=error "$PKG@$VERSION" >&2
fi

if [ "$(installed_version)" != "$VERSION" ] || [ ! -x "$BIN" ]; then
    echo "install-claude: $PKG@$VERSION did not install (found '$(installed_version)')" >&2
    exit 1
fi

# Print the version the binary itself reports, with a throwaway home so nothing real is touched.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
HOME="$SCRATCH" CLAUDE_CONFIG_DIR="$SCRATCH/.claude" DISABLE_AUTOUPDATER=1 \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 "$BIN" --version
echo "$BIN"
