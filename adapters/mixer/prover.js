#!/usr/bin/env node
// A long-lived Groth16 prover for the withdraw circuit: keeps snarkjs, the curve, the wasm and the zkey loaded.
// Protocol: one JSON object per line on stdin {"id": n, "input": {...circuit inputs...}}; one line per request
// on stdout {"id": n, "proof": {...}, "publicSignals": [...]} or {"id": n, "error": "..."}. Inputs hold a note's
// secrets: nothing here writes them anywhere, and error texts are cut to their first line without numbers.
//   node prover.js <circuit.wasm> <final.zkey>
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");
const snarkjs = require("snarkjs");

// snarkjs's own witness runtime (a pinned dependency of it): built once, it saves recompiling the 2 MB
// circuit wasm for every proof.
function witnessRuntime() {
  try {
    const from = path.dirname(require.resolve("snarkjs"));
    return require(require.resolve("circom_runtime", { paths: [from] }));
  } catch {
    return null;
  }
}

function scrub(message) {
  return String(message).split("\n")[0].replace(/\d{6,}/g, "…").slice(0, 200);
}

async function main() {
  const [wasmPath, zkeyPath] = process.argv.slice(2);
  const wasmBytes = fs.readFileSync(wasmPath);
  const wasm = { type: "mem", data: new Uint8Array(wasmBytes) };
  const zkey = { type: "mem", data: new Uint8Array(fs.readFileSync(zkeyPath)) };
  const runtime = witnessRuntime();
  const calculator = runtime ? await runtime.WitnessCalculatorBuilder(wasmBytes) : null;
  const prove = async (input) => {
    if (!calculator) return snarkjs.groth16.fullProve(input, wasm, zkey);
    const witness = await calculator.calculateWTNSBin(input, 0);
    return snarkjs.groth16.prove(zkey, { type: "mem", data: witness });
  };
  const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  // Silence library logging: inputs must never reach a log.
  console.log = console.info = console.debug = () => {};

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  out({ ready: true });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let id = null;
    try {
      const request = JSON.parse(line);
      id = request.id;
      const { proof, publicSignals } = await prove(request.input);
      out({ id, proof, publicSignals });
    } catch (err) {
      out({ id, error: scrub(err && err.message ? err.message : err) });
    }
  }
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`prover failed to start: ${scrub(err.message)}\n`);
  process.exit(2);
});
