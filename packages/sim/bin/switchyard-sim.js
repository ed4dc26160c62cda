#!/usr/bin/env node
// The `switchyard-sim` command. It lives outside dist/ so that the bin exists before the first
// build (pnpm links bins at install time, in a fresh clone too); the CLI itself is the build's.
import '../dist/cli.js'
