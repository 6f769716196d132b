'use strict';
/**
 * Preloaded into the built app (`node --require test/support/production-modules.js dist/main.js`) to make it
 * fail as the image would: the Dockerfile keeps production dependencies only (`npm prune --omit=dev`), so a
 * package that package-lock.json marks `"dev": true` is not there at run time. A require() that resolves into
 * one — from our code or from a library leaning on a package it never declared — throws MODULE_NOT_FOUND here
 * too, and says so on stderr. CommonJS only (what dist and its dependencies load through); not for production.
 */
const Module = require('node:module');
const { readFileSync } = require('node:fs');
const { join, relative, sep } = require('node:path');

const root = process.cwd();
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const devOnly = new Set(
  Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev === true)
    .map(([path]) => path),
);

/** `node_modules/a/node_modules/@s/b` for a file inside that package, or undefined outside node_modules. */
function packageDirOf(file) {
  const parts = relative(root, file).split(sep);
  let end = -1;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === 'node_modules' && i + 1 < parts.length) {
      end = i + (parts[i + 1].startsWith('@') ? 3 : 2);
    }
  }
  return end < 0 ? undefined : parts.slice(0, end).join('/');
}

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveShippedOnly(request, parent, ...rest) {
  const file = resolve.call(this, request, parent, ...rest);
  const dir = typeof file === 'string' ? packageDirOf(file) : undefined;
  if (dir && devOnly.has(dir)) {
    const from = parent && parent.filename ? relative(root, parent.filename) : '?';
    process.stderr.write(`production-modules: ${request} (required by ${from}) is a dev dependency, not in the image\n`);
    const error = new Error(`Cannot find module '${request}' (a dev dependency: the image does not ship it)`);
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return file;
};
