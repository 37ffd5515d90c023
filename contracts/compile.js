#!/usr/bin/env node
// Compiles contracts/*.sol and contracts/test/*.sol with solc-js (standard JSON) into
// adapters/chain/artifacts/<Name>.json: {"contractName","abi","bytecode"}.
//   node contracts/compile.js            write the artifacts
//   node contracts/compile.js --check    exit 1 if the committed artifacts differ from a fresh compile
//   node contracts/compile.js --out DIR  write into DIR instead
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..");
const NODE_MODULES = path.join(ROOT, "node_modules");
const DEFAULT_OUT = path.join(ROOT, "adapters", "chain", "artifacts");
// cancun: anvil and eth-tester (py-evm PragueVM) both run it. Lower it here if a target chain lacks MCOPY.
const EVM_VERSION = "cancun";
const SOLC_VERSION = "0.8.24";

function sourceFiles() {
  const dirs = ["contracts", "contracts/test"];
  const files = [];
  for (const dir of dirs) {
    for (const name of fs.readdirSync(path.join(ROOT, dir)).sort()) {
      if (name.endsWith(".sol")) files.push(`${dir}/${name}`);
    }
  }
  return files;
}

function findImport(importPath) {
  for (const base of [ROOT, NODE_MODULES]) {
    const full = path.join(base, importPath);
    if (full.startsWith(base + path.sep) && fs.existsSync(full)) {
      return { contents: fs.readFileSync(full, "utf8") };
    }
  }
  return { error: `not found: ${importPath} (run npm ci)` };
}

function compile() {
  if (!solc.version().startsWith(SOLC_VERSION)) {
    throw new Error(`solc ${solc.version()} installed, ${SOLC_VERSION} expected: run npm ci`);
  }
  const sources = {};
  for (const file of sourceFiles()) {
    sources[file] = { content: fs.readFileSync(path.join(ROOT, file), "utf8") };
  }
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
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`${errors.length} compilation error(s)`);

  const artifacts = {};
  for (const file of Object.keys(sources)) {
    for (const [name, contract] of Object.entries(output.contracts[file] || {})) {
      if (artifacts[name]) throw new Error(`two contracts named ${name}`);
      const artifact = { contractName: name, abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object };
      artifacts[name] = JSON.stringify(artifact, null, 2) + "\n";
    }
  }
  return artifacts;
}

function main(argv) {
  const check = argv.includes("--check");
  const outIndex = argv.indexOf("--out");
  const out = outIndex >= 0 ? path.resolve(argv[outIndex + 1]) : DEFAULT_OUT;
  const artifacts = compile();
  if (check) {
    const stale = [];
    for (const [name, text] of Object.entries(artifacts)) {
      const file = path.join(out, `${name}.json`);
      if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(name);
    }
    const known = new Set(Object.keys(artifacts).map((n) => `${n}.json`));
    const extra = fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.endsWith(".json") && !known.has(f)) : [];
    if (stale.length || extra.length) {
      process.stderr.write(
        `artifacts out of date: ${[...stale, ...extra].join(", ")}; run \`npm run compile\` and commit\n`,
      );
      process.exit(1);
    }
    process.stdout.write(`artifacts up to date (${Object.keys(artifacts).length} contracts)\n`);
    return;
  }
  fs.mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(out, `${name}.json`), text);
  process.stdout.write(`wrote ${Object.keys(artifacts).length} artifacts to ${path.relative(ROOT, out) || "."}\n`);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
