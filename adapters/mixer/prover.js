#!/usr/bin/env node
// A long-lived Groth16 prover for the withdraw circuit: keeps snarkjs, the curve, the wasm and the zkey loaded.
// Protocol: one JSON object per line on stdin {"id": n, "input": {...circuit inputs...}}; one line per request
// on stdout {"id": n, "proof": {...}, "publicSignals": [...]} or {"id": n, "error": "..."}. Inputs hold a note's
// secrets: nothing here writes them anywhere, and error texts are cut to their first line without numbers.
//   node prover.js <circuit.wasm> <final.zkey>
"use strict";

const fs = require("fs");
const readline = require("readline");
const snarkjs = require("snarkjs");

function scrub(message) {
  return String(message).split("\n")[0].replace(/\d{6,}/g, "…").slice(0, 200);
}

async function main() {
  const [wasmPath, zkeyPath] = process.argv.slice(2);
  const wasm = { type: "mem", data: new Uint8Array(fs.readFileSync(wasmPath)) };
  const zkey = { type: "mem", data: new Uint8Array(fs.readFileSync(zkeyPath)) };
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
      const { proof, publicSignals } = await snarkjs.groth16.fullProve(request.input, wasm, zkey);
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
