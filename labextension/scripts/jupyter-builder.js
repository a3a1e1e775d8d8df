#!/usr/bin/env node
/**
 * Run the Python `jupyter-builder` CLI (the JupyterLab 4.6 builder, which
 * drives `@jupyter/builder` from node_modules) with the given arguments.
 *
 * Where it comes from, first match wins:
 *   1. $JUPYTER_BUILDER (a full path to the executable);
 *   2. the project's virtualenv, ../.venv/bin/jupyter-builder
 *      (../.venv/Scripts/jupyter-builder.exe on Windows);
 *   3. `jupyter-builder` on PATH.
 */
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function findBuilder() {
  if (process.env.JUPYTER_BUILDER) {
    return process.env.JUPYTER_BUILDER;
  }
  const venv = path.resolve(__dirname, '..', '..', '.venv');
  const candidates =
    process.platform === 'win32'
      ? [path.join(venv, 'Scripts', 'jupyter-builder.exe')]
      : [path.join(venv, 'bin', 'jupyter-builder')];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return 'jupyter-builder';
}

const builder = findBuilder();
const result = spawnSync(builder, process.argv.slice(2), {
  stdio: 'inherit',
  cwd: path.resolve(__dirname, '..')
});
if (result.error) {
  console.error(
    `Could not run ${builder}: ${result.error.message}\n` +
      'Install JupyterLab >= 4.6 (it provides jupyter-builder) in ../.venv, ' +
      'put jupyter-builder on PATH, or set JUPYTER_BUILDER.'
  );
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
