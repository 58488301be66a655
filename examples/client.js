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
//
// Each application's "id" goes as its request_key too, so running the same
// file again stores nothing new: the replies are the stored decisions, marked
// "repeated".  That is how to retry safely after a timeout or a lost
// connection: send the same request with the same key.
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
  /** Connect to the socket at PATH (default $ELIGO_SOCKET, else ./eligo.sock).
   *  opts.timeout: milliseconds to wait for a reply (default 30000). */
  static connect(socketPath, opts = {}) {
    const where = socketPath || process.env.ELIGO_SOCKET || 'eligo.sock';
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: where });
      sock.once('error', (e) => reject(new Error(`cannot connect to ${where}: ${e.message}`)));
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolve(new Client(sock, opts.timeout || 30000));
      });
    });
  }

  constructor(sock, timeout) {
    this.sock = sock;
    this.timeout = timeout;
    this.nextId = 1;
    this.pending = [];    // { key, id, resolve, reject }, oldest first
    this.parts = [];      // text received after the last newline
    this.timer = null;
    this.broken = null;   // why this connection can no longer be used
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', (e) => this.failAll(e));
    sock.on('close', () => this.failAll(new Error('the server closed the connection')));
  }

  // Lines are split only where a chunk holds a newline: a reply of many
  // megabytes arriving in small chunks is joined once, not once per chunk.
  onData(chunk) {
    const end = chunk.lastIndexOf('\n');
    if (end < 0) {
      this.parts.push(chunk);
      return;
    }
    this.parts.push(chunk.slice(0, end));
    const lines = this.parts.join('').split('\n');
    this.parts = [chunk.slice(end + 1)];
    for (const line of lines) {
      if (!line.trim()) continue;
      const waiter = this.pending.shift();
      if (!waiter) continue;
      const reply = JSON.parse(line);
      // The server echoes an id in canonical form (an object's keys sorted):
      // compare in that form.
      if (reply.id !== null && canonical(reply.id) !== waiter.key) {
        waiter.reject(new Error(`reply for id ${JSON.stringify(reply.id)} where ${waiter.key} was expected`));
      } else {
        waiter.resolve(reply);
      }
    }
    this.arm();
  }

  // One timer for the oldest request awaiting its reply.
  arm() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length) {
      this.timer = setTimeout(() => {
        const oldest = this.pending[0];
        this.sock.destroy();
        this.failAll(new Error(`no reply within ${this.timeout / 1000} s to request ${oldest.key}; ` +
          'this connection is closed: open another and send the unanswered requests again with their request_key'));
      }, this.timeout);
    }
  }

  failAll(e) {
    this.broken = this.broken || e;
    clearTimeout(this.timer);
    for (const waiter of this.pending.splice(0)) waiter.reject(e);
  }

  /** Send a request; resolves to its reply, ok or not. */
  request(op, fields = {}) {
    const req = { ...fields, op };
    if (req.id === undefined) req.id = this.nextId++;
    let line;
    try {
      line = JSON.stringify(req) + '\n';   // before anything is queued: it may throw
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.pending.push({ key: canonical(req.id), id: req.id, resolve, reject });
      if (this.pending.length === 1) this.arm();
      this.sock.write(line);
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

  /** One stored decision as it was made (its messages in its own language),
   *  with the reviews of it. */
  decision(decisionId) {
    return this.call('decision', { decision_id: decisionId });
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
    clearTimeout(this.timer);
    this.sock.end();
  }
}

/** VALUE as JSON with every object's keys sorted, as the server echoes an id. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
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

  // The whole file is read first: a bad line stops us before anything is sent.
  const apps = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  try {
    const bytes = fs.readFileSync(file);
    let start = 0;
    const lines = [];
    for (let end; (end = bytes.indexOf(10, start)) !== -1; start = end + 1) {
      lines.push(bytes.subarray(start, end));
    }
    lines.push(bytes.subarray(start));
    lines.forEach((raw, i) => {
      let app;
      try {
        const l = utf8.decode(raw);   // not UTF-8: said, rather than sent as U+FFFD
        if (!l.trim()) return;
        app = JSON.parse(l);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: ${e.message}`);
      }
      if (app === null || typeof app !== 'object' || Array.isArray(app)) {
        throw new Error(`${file}:${i + 1}: not a JSON object`);
      }
      apps.push(app);
    });
  } catch (e) {
    console.error(`client.js: ${e.message}`);
    return 2;
  }
  let eligo;
  try {
    eligo = await Client.connect(socketPath);
  } catch (e) {
    console.error(`client.js: ${e.message}`);
    return 2;
  }
  // Every request is sent at once; the replies settle in order.  Those that
  // arrived are printed even when the connection is lost before the rest.
  const settled = await Promise.allSettled(apps.map((app) => {
    const { op, program, ...fields } = app;
    if (lang && !fields.lang) fields.lang = lang;
    if (fields.id !== undefined && fields.request_key === undefined) fields.request_key = String(fields.id);
    return eligo.request('screen', fields);
  }));
  eligo.close();

  let errors = 0;
  const lost = settled.filter((s) => s.status === 'rejected');
  for (const s of settled) {
    if (s.status === 'rejected') continue;
    const reply = s.value;
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
    console.log(`${reply.id}: ${outcomes.join('; ') || 'no programme in force'}${reply.repeated ? ' (repeated)' : ''}`);
  }
  if (lost.length) {
    console.error(`client.js: ${lost[0].reason.message}`);
    console.error(`client.js: no reply to ${lost.length} requests; each may or may not be stored: ` +
      'run them again, their request_key makes that safe');
    return 2;
  }
  return errors ? 1 : 0;
}

module.exports = { Client, EligoError };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; },
    (e) => { console.error(`client.js: ${e.message}`); process.exitCode = 2; });
}
