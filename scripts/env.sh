# Sourced by the scripts: puts the project's tools first on PATH (npm's wasm-opt before any other).
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
