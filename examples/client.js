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
// connection: send the same request with the same key.  The key is the id
// itself when it is a string, its decimal digits when it is a whole number
// (8124 and 8124.0 alike, under 2^53, as examples/client.py makes it); any
// other id (null, true, 2.5, an object or an array) sends no request_key: its
// text would not be the same in every client, or the same for every
// application.
//
// A line the server would refuse is refused before anything is sent, naming
// its line: not UTF-8, not an object, a member name twice in one object, a
// number too large for a double.
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
      const waiter = this.pending[0];
      if (!waiter) continue;
      let reply;
      try {
        reply = JSON.parse(line);
      } catch (e) {
        // Not a reply: the connection cannot be trusted any more.  This request
        // and those after it are unanswered (they may or may not be stored).
        this.sock.destroy();
        this.failAll(new Error(`protocol error: the reply to request ${waiter.key} is not JSON ` +
          `(${e.message}): ${JSON.stringify(line.slice(0, 60))}`));
        return;
      }
      this.pending.shift();
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
    let key;
    try {
      line = JSON.stringify(req) + '\n';   // before anything is queued: it may throw
      // The id as it goes out, which the reply echoes: JSON.stringify drops
      // a member that is undefined and writes a Date as its string, so the id
      // given is not always the id sent.
      key = canonical(JSON.parse(line).id);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.pending.push({ key, id: req.id, resolve, reject });
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

/** The request_key an application's id gives, or undefined: the id itself when
 *  it is a string, its decimal digits when it is a whole number below 2^53 (as
 *  client.py gives it).  Undefined for any other id, whose text would differ between
 *  clients (true and True, 2.5) or be the same for every application (null). */
function requestKey(id) {
  if (typeof id === 'string') return id;
  if (Number.isSafeInteger(id)) return String(id);
  return undefined;
}

/** The first member name given twice in one object of TEXT (which JSON.parse
 *  has read: it keeps the last value silently, where the server refuses the
 *  line as ambiguous), or undefined. */
function duplicateName(text) {
  const open = [];   // per open bracket: the names of an object, null for an array
  let name = false;  // the next string is a member name
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (name) {
        const key = JSON.parse(text.slice(i, j + 1));   // "a" and "\u0061" are one name
        if (open[open.length - 1].has(key)) return key;
        open[open.length - 1].add(key);
        name = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      name = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      name = false;
    } else if (c === ',') {
      name = open[open.length - 1] !== null;
    }
  }
  return undefined;
}

/** An id as a person reads it: a string as it is, anything else as JSON
 *  ({"n":1}, not [object Object]). */
function shown(id) {
  return typeof id === 'string' ? id : JSON.stringify(id);
}

const USAGE = 'usage: node client.js [--socket PATH] [--lang en|fr|ar] [FILE]';

async function main(argv) {
  let socketPath = null;
  let lang = null;
  let file = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help') {
      console.log(USAGE);
      return 0;
    }
    let problem = null;
    if (arg === '--socket' || arg === '--lang') {
      const value = argv[++i];
      // A missing value is said, not taken as the default (or the next option).
      if (value === undefined || value.startsWith('-')) problem = `${arg} needs a value`;
      else if (arg === '--socket') socketPath = value;
      else lang = value;
    } else if (arg.startsWith('-') && arg !== '-') {
      problem = `unknown option ${arg}`;   // not a file to open: --sokcet X would read X
    } else if (file !== null) {
      problem = `one FILE only (${file} and ${arg})`;
    } else {
      file = arg;
    }
    if (problem) {
      console.error(`client.js: ${problem}\n${USAGE}`);
      return 2;
    }
  }
  if (file === null) file = path.join(__dirname, 'applications.jsonl');

  // The whole file is read first: a bad line stops us before anything is sent.
  const apps = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    console.error(`client.js: ${file}: ${e.message}`);   // EISDIR alone does not name it
    return 2;
  }
  try {
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
        app = JSON.parse(l, (k, v) => {
          // 1e400 is Infinity here, which JSON.stringify would send as null.
          if (v === Infinity || v === -Infinity) throw new Error('a number too large');
          return v;
        });
        const twice = duplicateName(l);
        if (twice !== undefined) throw new Error(`the member ${JSON.stringify(twice)} appears twice in one object`);
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
    const key = requestKey(fields.id);
    // A retry of the same application stores nothing new.
    if (key !== undefined && fields.request_key === undefined) fields.request_key = key;
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
      console.log(`${shown(reply.id)}: error ${reply.error.code}: ${reply.error.message}`);
      continue;
    }
    const outcomes = reply.decisions.map((d) => {
      // passed is null when the criterion lacked data: it is not failed, and
      // the missing fields are listed after.
      const why = d.criteria.filter((c) => c.passed === false).map((c) => c.id)
        .concat((d.missing || []).map((m) => `missing ${m}`));
      return `${d.program} ${d.outcome}${why.length ? ` (${why.join(', ')})` : ''}`;
    });
    console.log(`${shown(reply.id)}: ${outcomes.join('; ') || 'no programme in force'}${reply.repeated ? ' (repeated)' : ''}`);
  }
  if (lost.length) {
    console.error(`client.js: ${lost[0].reason.message}`);
    console.error(`client.js: no reply to ${lost.length} request${lost.length === 1 ? '' : 's'}; ` +
      'each may or may not be stored: ' +
      'run them again, their request_key makes that safe');
    return 2;
  }
  return errors ? 1 : 0;
}

module.exports = { Client, EligoError };

if (require.main === module) {
  // Output that cannot be written is said, not lost with status 0.  A reader
  // that went away (| head) has seen enough: quiet, as a shell reports SIGPIPE.
  process.stdout.on('error', (e) => {
    if (e.code !== 'EPIPE') console.error(`client.js: cannot write the output: ${e.message}`);
    process.exit(e.code === 'EPIPE' ? 128 + 13 : 2);
  });
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; },
    (e) => { console.error(`client.js: ${e.message}`); process.exitCode = 2; });
}
