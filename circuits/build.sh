#!/usr/bin/env bash
# Rebuilds the withdraw circuit, runs a LOCAL trusted setup and exports the keys and the Solidity verifier.
#
#   circuits/build.sh           compile, setup (~3.5 min on 2 cores), export; overwrites committed keys
#   circuits/build.sh --check   recompile only and diff the wasm with the committed one; re-export the
#                               verification key and verifier from the committed zkey and diff them
#
# The setup here has one local contributor plus a beacon: fine for development and tests, NOT for
# production, which needs a public multi-party ceremony (phase 1 from a public powers of tau, phase 2 with
# independent contributors). Each run produces new, different keys: commit them together with the verifier.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CIRCUITS="$ROOT/circuits"
OUT="$CIRCUITS/artifacts"           # committed: wasm, final zkey, verification key, r1cs hash
BUILD="$CIRCUITS/build"             # not committed: r1cs, ptau files, intermediate zkeys
VERIFIER="$ROOT/contracts/mixer/Groth16Verifier.sol"
CIRCOM=(node "$ROOT/node_modules/circom2/cli.js")
SNARKJS=(node "$ROOT/node_modules/snarkjs/build/cli.cjs")
POWER=13                            # 2^13 = 8192 >= 5,296 constraints + public inputs
BEACON=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20

compile() {
  local dir="$1"
  mkdir -p "$dir"
  # circom2 runs as WebAssembly and sees paths relative to the working directory: run from the root.
  (cd "$ROOT" && "${CIRCOM[@]}" circuits/withdraw.circom -l node_modules --r1cs --wasm --O2 -o "$dir" >"$dir/circom.log")
  grep -E "constraints|inputs" "$dir/circom.log" | sed 's/\x1b\[[0-9;]*m//g'
}

entropy() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

if [[ "${1:-}" == "--check" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  compile "$tmp"
  cmp "$tmp/withdraw_js/withdraw.wasm" "$OUT/withdraw.wasm"
  # The zkey was made for this constraint system: a changed r1cs means the keys must be rebuilt.
  [[ "$(sha256sum "$tmp/withdraw.r1cs" | cut -d' ' -f1)" == "$(cat "$OUT/withdraw.r1cs.sha256")" ]] \
    || { echo "withdraw.r1cs changed: run circuits/build.sh to rebuild the keys" >&2; exit 1; }
  "${SNARKJS[@]}" zkey export verificationkey "$OUT/withdraw_final.zkey" "$tmp/verification_key.json" >/dev/null
  cmp "$tmp/verification_key.json" "$OUT/verification_key.json"
  "${SNARKJS[@]}" zkey export solidityverifier "$OUT/withdraw_final.zkey" "$tmp/Groth16Verifier.sol" >/dev/null
  cmp "$tmp/Groth16Verifier.sol" "$VERIFIER"
  echo "circuit, verification key and verifier match the committed ones"
  exit 0
fi

mkdir -p "$OUT" "$BUILD" "$(dirname "$VERIFIER")"
cd "$BUILD"
echo "== compile (--O2)"
compile "$BUILD"

echo "== phase 1: powers of tau 2^$POWER (local)"
"${SNARKJS[@]}" powersoftau new bn128 "$POWER" pot_0000.ptau
"${SNARKJS[@]}" powersoftau contribute pot_0000.ptau pot_0001.ptau --name="snowrail local" -e="$(entropy)"
"${SNARKJS[@]}" powersoftau beacon pot_0001.ptau pot_beacon.ptau "$BEACON" 10 -n="final beacon"
"${SNARKJS[@]}" powersoftau prepare phase2 pot_beacon.ptau pot_final.ptau

echo "== phase 2: groth16 for withdraw"
"${SNARKJS[@]}" groth16 setup withdraw.r1cs pot_final.ptau withdraw_0000.zkey
"${SNARKJS[@]}" zkey contribute withdraw_0000.zkey withdraw_0001.zkey --name="snowrail local" -e="$(entropy)"
"${SNARKJS[@]}" zkey beacon withdraw_0001.zkey withdraw_final.zkey "$BEACON" 10 -n="final beacon"
"${SNARKJS[@]}" zkey verify withdraw.r1cs pot_final.ptau withdraw_final.zkey

echo "== export"
cp withdraw_js/withdraw.wasm "$OUT/withdraw.wasm"
sha256sum withdraw.r1cs | cut -d' ' -f1 >"$OUT/withdraw.r1cs.sha256"
cp withdraw_final.zkey "$OUT/withdraw_final.zkey"
"${SNARKJS[@]}" zkey export verificationkey "$OUT/withdraw_final.zkey" "$OUT/verification_key.json"
"${SNARKJS[@]}" zkey export solidityverifier "$OUT/withdraw_final.zkey" "$VERIFIER"
echo "done: $OUT and $VERIFIER; now run node contracts/mixer/compile.js and commit"
