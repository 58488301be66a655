#!/usr/bin/env node
// A client for `eligo serve`, using only Node.js core modules.
//
// The protocol (see the README): one JSON object per line over a Unix socket.
// Every request may carry an "id"; every reply echoes it, and replies come back
// in the order of the requests.  So this client sends every request at once
// (pipelining) and settles the promises in order as the replies arrive.
//
//   const { Client } = require('./client.js');
//   const eligo = await Client.connect('eligo.sock');
//   const d = await eligo.decide('idmaj', applicant, { as_of: '2025-03-01' });
//   const all = await Promise.all(apps.map((a) => eligo.screen(a)));   // pipelined
//   eligo.close();
//
// Run as a program, it screens the applications of a JSON-lines file (by
// default examples/applications.jsonl) for every programme and prints the
// outcomes:
//
//   node examples/client.js [--socket PATH] [--lang fr] [FILE]
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');

/** An error reply: `code` is the protocol's error code, `reply` the whole reply. */
class EligoError extends Error {
  constructor(reply) {
    const error = reply.error || {};
    super(`${error.code}: ${error.message}`);
    this.code = error.code;
    this.reply = reply;
  }
}

class Client {
  /** Connect to the socket at PATH (default $ELIGO_SOCKET, else ./eligo.sock). */
  static connect(socketPath) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: socketPath || process.env.ELIGO_SOCKET || 'eligo.sock' });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        resolve(new Client(sock));
      });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.nextId = 1;
    this.pending = [];    // { id, resolve, reject }, oldest first
    this.rest = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', (e) => this.failAll(e));
    sock.on('close', () => this.failAll(new Error('the server closed the connection')));
  }

  onData(chunk) {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const waiter = this.pending.shift();
      if (!waiter) continue;
      const reply = JSON.parse(line);
      if (reply.id !== waiter.id && reply.id !== null) {
        waiter.reject(new Error(`reply for id ${reply.id} where ${waiter.id} was expected`));
      } else {
        waiter.resolve(reply);
      }
    }
  }

  failAll(e) {
    for (const waiter of this.pending.splice(0)) waiter.reject(e);
  }

  /** Send a request; resolves to its reply, ok or not. */
  request(op, fields = {}) {
    const req = { ...fields, op };
    if (req.id === undefined) req.id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.push({ id: req.id, resolve, reject });
      this.sock.write(JSON.stringify(req) + '\n');
    });
  }

  /** Send a request; resolves to its reply, rejects with EligoError on an error reply. */
  async call(op, fields) {
    const reply = await this.request(op, fields);
    if (!reply.ok) throw new EligoError(reply);
    return reply;
  }

  /** The decision for APPLICANT on PROGRAM. opts: as_of, lang, request_key. */
  async decide(program, applicant, opts = {}) {
    return (await this.call('decide', { ...opts, program, applicant })).decision;
  }

  /** The decisions for APPLICANT on every programme in force. opts: as_of, lang. */
  async screen(applicant, opts = {}) {
    return (await this.call('screen', { ...opts, applicant })).decisions;
  }

  /** One stored decision, with its explanation. */
  decision(decisionId, opts = {}) {
    return this.call('decision', { ...opts, decision_id: decisionId });
  }

  /** An applicant's decisions, newest first. */
  history(applicantId, opts = {}) {
    return this.call('history', { ...opts, applicant_id: applicantId });
  }

  /** The programmes in force. opts: as_of, lang. */
  async programs(opts = {}) {
    return (await this.call('programs', opts)).programs;
  }

  health() {
    return this.call('health');
  }

  close() {
    this.sock.end();
  }
}

async function main(argv) {
  let socketPath = null;
  let lang = null;
  let file = path.join(__dirname, 'applications.jsonl');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--socket') socketPath = argv[++i];
    else if (argv[i] === '--lang') lang = argv[++i];
    else if (argv[i] === '--help') {
      console.log('usage: node client.js [--socket PATH] [--lang en|fr|ar] [FILE]');
      return 0;
    } else file = argv[i];
  }

  const apps = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  let eligo;
  try {
    eligo = await Client.connect(socketPath);
  } catch (e) {
    console.error(`client.js: ${e.message}`);
    return 2;
  }
  // Every request is sent at once; the replies settle in order.
  const replies = await Promise.all(apps.map((app) => {
    const { op, program, ...fields } = app;
    if (lang && !fields.lang) fields.lang = lang;
    return eligo.request('screen', fields);
  }));
  eligo.close();

  let errors = 0;
  for (const reply of replies) {
    if (!reply.ok) {
      errors++;
      console.log(`${reply.id}: error ${reply.error.code}: ${reply.error.message}`);
      continue;
    }
    const outcomes = reply.decisions.map((d) => {
      // passed is null when the criterion lacked data: it is not failed, and
      // the missing fields are listed after.
      const why = d.criteria.filter((c) => c.passed === false).map((c) => c.id)
        .concat((d.missing || []).map((m) => `missing ${m}`));
      return `${d.program} ${d.outcome}${why.length ? ` (${why.join(', ')})` : ''}`;
    });
    console.log(`${reply.id}: ${outcomes.join('; ') || 'no programme in force'}`);
  }
  return errors ? 1 : 0;
}

module.exports = { Client, EligoError };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; },
    (e) => { console.error(`client.js: ${e.message}`); process.exitCode = 2; });
}
