#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: Debian's Chromium and build tools (apt),
# and code-server 4.100.3 (a complete VS Code server + web workbench, from the npm registry) under
# .e2e/code-server. See docs/e2e-vscode.md in the shared docs for why each step exists.
#
# code-server is deliberately not a devDependency: its postinstall downloads ripgrep from GitHub
# and its nested VS Code needs its own installs, which `npm ci` cannot do offline-cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export npm_config_nodedir=/usr
export npm_config_yes=true
export npm_config_audit=false
export npm_config_fund=false

CODE_SERVER_VERSION=4.100.3
prefix="$root/.e2e/code-server"
vscode_dir="$prefix/node_modules/code-server/lib/vscode"
stamp="$prefix/.installed-$CODE_SERVER_VERSION"

apt_packages=(chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential python3)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "e2e-setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -f "$stamp" ]]; then
  echo "e2e-setup: code-server $CODE_SERVER_VERSION already installed in $prefix"
  exit 0
fi

echo "e2e-setup: installing code-server $CODE_SERVER_VERSION into $prefix"
rm -rf "$prefix"
mkdir -p "$prefix"
printf '{ "name": "grassmann-lens-e2e-code-server", "private": true }\n' >"$prefix/package.json"
(cd "$prefix" && npm install --no-save --ignore-scripts --no-package-lock "code-server@$CODE_SERVER_VERSION")

(
  cd "$vscode_dir"
  npm install --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  cp /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
  npm rebuild
  ln -sfn node_modules node_modules.asar
  cd extensions
  npm install --omit=dev --ignore-scripts
)
(cd "$prefix" && npm rebuild argon2)

# --version writes a default config.yaml under XDG_CONFIG_HOME; keep it out of $HOME.
XDG_CONFIG_HOME="$prefix/.config" "$prefix/node_modules/.bin/code-server" --version
touch "$stamp"
echo "e2e-setup: done"
