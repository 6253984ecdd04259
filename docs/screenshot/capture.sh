#!/usr/bin/env bash
# Regenerate docs/editor.png: Neovim (with editors/vim) in tmux on demo.cnn,
# the pane captured with its colours and drawn to PNG by ansi2png.py.
# Needs tmux, nvim and python3 with Pillow (Debian: tmux neovim python3-pil).
#   docs/screenshot/capture.sh target/release/cnnscript
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-target/release/cnnscript}")
work=$(mktemp -d)
trap 'tmux kill-session -t cnnshot 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$here/demo.cnn" "$work/lenet.cnn"
tmux new-session -d -s cnnshot -x 122 -y 19 -c "$work" \
  "env CNNSCRIPT_BIN=$bin CNNSCRIPT_EDITORS=$here/../../editors nvim -n -i NONE -u $here/init.lua lenet.cnn"
# wait for the hints and the diagnostic to be drawn
for _ in $(seq 50); do
  sleep 0.2
  screen=$(tmux capture-pane -p -t cnnshot)
  if grep -q "Nx6x28x28" <<<"$screen" && grep -q "declares in=4" <<<"$screen"; then
    break
  fi
done
sleep 0.5
tmux capture-pane -e -p -t cnnshot >"$work/screen.ans"
"${PYTHON:-python3}" "$here/ansi2png.py" "$work/screen.ans" "$here/../editor.png"
echo "wrote docs/editor.png"
