#!/usr/bin/env node
// Builds the mixer's contract artifacts into adapters/mixer/artifacts/<Name>.json ({"contractName","abi","bytecode"}):
//   Mixer and Groth16Verifier (contracts/mixer/*.sol, solc-js 0.8.24) and PoseidonT3, the Poseidon(2) hasher
//   that circomlibjs generates as raw EVM bytecode (poseidonContract.createCode(2), LGPL-3.0+).
//   node contracts/mixer/compile.js           write the artifacts
//   node contracts/mixer/compile.js --check   exit 1 if the committed artifacts differ from a fresh build
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");
const { poseidonContract } = require("circomlibjs");

const ROOT = path.resolve(__dirname, "..", "..");
const NODE_MODULES = path.join(ROOT, "node_modules");
const OUT = path.join(ROOT, "adapters", "mixer", "artifacts");
const SOURCES = ["contracts/mixer/Mixer.sol", "contracts/mixer/Groth16Verifier.sol"];
const EVM_VERSION = "cancun"; // as contracts/compile.js
const SOLC_VERSION = "0.8.24";

function findImport(importPath) {
  for (const base of [ROOT, NODE_MODULES]) {
    const full = path.join(base, importPath);
    if (full.startsWith(base + path.sep) && fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: `not found: ${importPath} (run npm ci)` };
}

function artifactText(name, abi, bytecode) {
  return JSON.stringify({ contractName: name, abi, bytecode }, null, 2) + "\n";
}

function build() {
  if (!solc.version().startsWith(SOLC_VERSION)) {
    throw new Error(`solc ${solc.version()} installed, ${SOLC_VERSION} expected: run npm ci`);
  }
  const sources = {};
  for (const file of SOURCES) sources[file] = { content: fs.readFileSync(path.join(ROOT, file), "utf8") };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: EVM_VERSION,
      metadata: { bytecodeHash: "none" },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(`${errors.length} compilation error(s)`);

  const artifacts = {};
  for (const file of SOURCES) {
    for (const [name, c] of Object.entries(output.contracts[file] || {})) {
      if (!c.evm.bytecode.object) continue; // interfaces
      artifacts[name] = artifactText(name, c.abi, "0x" + c.evm.bytecode.object);
    }
  }
  // Only the uint256[2] overload: Mixer calls that one, and web3 prefers an ABI without ambiguity.
  const abi = poseidonContract.generateABI(2).filter((f) => f.inputs[0].type === "uint256[2]");
  artifacts.PoseidonT3 = artifactText("PoseidonT3", abi, poseidonContract.createCode(2));
  return artifacts;
}

function main(argv) {
  const artifacts = build();
  if (argv.includes("--check")) {
    const stale = Object.entries(artifacts)
      .filter(([name, text]) => {
        const file = path.join(OUT, `${name}.json`);
        return !fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text;
      })
      .map(([name]) => name);
    if (stale.length) {
      process.stderr.write(`mixer artifacts out of date: ${stale.join(", ")}; run node contracts/mixer/compile.js\n`);
      process.exit(1);
    }
    process.stdout.write(`mixer artifacts up to date (${Object.keys(artifacts).length} contracts)\n`);
    return;
  }
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(OUT, `${name}.json`), text);
  process.stdout.write(`wrote ${Object.keys(artifacts).length} artifacts to ${path.relative(ROOT, OUT)}\n`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
