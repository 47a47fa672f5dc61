#!/usr/bin/env node
// A short raw-socket Kalshi FIX client in Node.js (no npm packages), graded by
// `kalshi-fixsim conform --client-cmd 'node client.js'`: proof that the kit's client
// contract (KALSHI_FIX_* environment variables, docs/conform.md) works for any language.
//
// Session profile only: signed Logon (spec 01 §3), heartbeats and TestRequest (§4), sequence
// checks with ResendRequest on RT/PT and reconnect-with-reset elsewhere (§5, §6), gap fill on a
// venue ResendRequest (it sends no application messages, so a gap fill is the whole answer),
// SequenceReset, Logout handshake (§7), reconnect with exponential backoff and jitter.
'use strict';
const tls = require('tls');
const fs = require('fs');
const crypto = require('crypto');

const env = process.env;
const cfg = {
  host: env.KALSHI_FIX_HOST || '127.0.0.1', port: Number(env.KALSHI_FIX_PORT),
  apiKey: env.KALSHI_FIX_API_KEY, keyFile: env.KALSHI_FIX_KEY_FILE, caFile: env.KALSHI_FIX_CA_FILE,
  session: env.KALSHI_FIX_SESSION || 'NR', heartbeat: Number(env.KALSHI_FIX_HEARTBEAT || 30),
};
cfg.target = env.KALSHI_FIX_TARGET_COMP_ID || 'Kalshi' + cfg.session;
if (!cfg.port || !cfg.apiKey || !cfg.keyFile) {
  console.error('node client: KALSHI_FIX_PORT, KALSHI_FIX_API_KEY and KALSHI_FIX_KEY_FILE are required');
  process.exit(2);
}
const key = crypto.createPrivateKey(fs.readFileSync(cfg.keyFile));
const retransmission = cfg.session === 'RT' || cfg.session === 'PT';
const SOH = '\x01';
const log = (text) => console.error(`${new Date().toISOString().slice(11, 23)} node ${text}`);

let outSeq = 1, inSeq = 1, logons = 0, attempt = 0, stopping = false, forceReset = false;
let sock = null, loggedOn = false, logoutSent = false, resendPending = false, resendUntil = 0;
let lastSent = 0, lastRecv = 0, testReqId = null, timer = null, buffer = Buffer.alloc(0);

function sendingTime() {  // 20260105-14:30:00.123
  const s = new Date().toISOString();
  return s.slice(0, 4) + s.slice(5, 7) + s.slice(8, 10) + '-' + s.slice(11, 23);
}

function send(type, body, seq, extra) {
  if (seq === undefined) seq = outSeq++;
  const time = sendingTime();
  let fields = [[35, type], [49, cfg.apiKey], [56, cfg.target], [34, seq], [52, time]].concat(extra || []);
  if (type === 'A') {  // spec 01 §3: RSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt over the exact 52
    const payload = [time, 'A', String(seq), cfg.apiKey, cfg.target].join(SOH);
    const sig = crypto.sign('sha256', Buffer.from(payload), {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64');
    body = body.slice(0, 2).concat([[95, sig.length], [96, sig]], body.slice(2));
  }
  const text = fields.concat(body).map(([t, v]) => `${t}=${v}${SOH}`).join('');
  const head = `8=FIXT.1.1${SOH}9=${Buffer.byteLength(text)}${SOH}`;
  const frame = Buffer.from(head + text);
  let sum = 0;
  for (const b of frame) sum = (sum + b) % 256;
  sock.write(Buffer.concat([frame, Buffer.from(`10=${String(sum).padStart(3, '0')}${SOH}`)]));
  lastSent = Date.now();
}

// Frames by BodyLength and CheckSum; anything else is skipped (garbled input never crashes us).
function frames() {
  const out = [];
  for (;;) {
    const start = buffer.indexOf('8=FIXT.1.1' + SOH);
    if (start < 0) { buffer = buffer.subarray(Math.max(0, buffer.length - 11)); return out; }
    buffer = buffer.subarray(start);
    const m = /^8=FIXT\.1\.1\x019=(\d{1,7})\x01/.exec(buffer.subarray(0, 30).toString('latin1'));
    if (!m) { if (buffer.length >= 30 || buffer.indexOf(SOH, 11) > 0) buffer = buffer.subarray(1); else return out; continue; }
    const end = m[0].length + Number(m[1]);
    if (buffer.length < end + 7) return out;
    let sum = 0;
    for (let i = 0; i < end; i++) sum = (sum + buffer[i]) % 256;
    const trailer = buffer.subarray(end, end + 7).toString('latin1');
    if (trailer !== `10=${String(sum).padStart(3, '0')}${SOH}`) { buffer = buffer.subarray(1); continue; }
    const msg = new Map();
    for (const part of buffer.subarray(0, end).toString('latin1').split(SOH).slice(0, -1)) {
      const i = part.indexOf('=');
      const tag = Number(part.slice(0, i));
      if (!msg.has(tag)) msg.set(tag, part.slice(i + 1));
    }
    buffer = buffer.subarray(end + 7);
    out.push(msg);
  }
}

function logout(text) {
  send('5', text ? [[58, text]] : []);
  logoutSent = true;
  log('logout sent ' + (text || ''));
  const mine = sock;  // this connection only: a reconnect within 3 s gets a new socket
  setTimeout(() => mine.destroy(), 3000).unref();
}

function onMessage(msg) {
  const type = msg.get(35), seq = Number(msg.get(34) || 0), possDup = msg.get(43) === 'Y';
  testReqId = null;
  if (possDup && !msg.has(122) && type !== '4') {  // spec 01 §6: a resend must carry OrigSendingTime
    send('3', [[45, seq], [371, 122], [372, type], [373, 1], [58, 'Required tag missing: OrigSendingTime(122)']]);
    inSeq = Math.max(inSeq, seq + 1);
    return;
  }
  if (type === '4' && msg.get(123) !== 'Y') { inSeq = Number(msg.get(36)); log(`sequence reset to ${inSeq}`); return; }
  if (type === '5' && !loggedOn) {  // our Logon refused; on RT/PT a sequence complaint means: reset
    const text = msg.get(58) || '';
    if (/resetseqnumflag|sequence|msgseqnum/i.test(text)) forceReset = true;
    log(`logon refused: ${text}`);
    sock.end();
    return;
  }
  if (type === 'A' && !loggedOn) { loggedOn = true; logons++; attempt = 0; log(`logged on ${cfg.session} seq=${seq}`); }
  if (seq < inSeq) {
    if (possDup) return;  // a duplicate: already processed
    logout(`MsgSeqNum too low, expecting ${inSeq} but received ${seq}`);
    return;
  }
  if (seq > inSeq) {
    log(`gap: expected seq=${inSeq}, received ${seq}`);
    if (!retransmission) { logout(`MsgSeqNum gap, expecting ${inSeq} but received ${seq}`); return; }
    resendUntil = Math.max(resendUntil, seq);
    if (!resendPending) { resendPending = true; send('2', [[7, inSeq], [16, 0]]); log(`ResendRequest ${inSeq}..0`); }
    if (type === '1') send('0', [[112, msg.get(112)]]);
    if (type === '5') { if (!logoutSent) logout(''); }
    return;
  }
  inSeq = seq + 1;
  if (type === '4') inSeq = Math.max(inSeq, Number(msg.get(36)));
  if (resendPending && inSeq > resendUntil) { resendPending = false; log('gap filled'); }
  if (type === '4' || type === '0' || type === 'A') return;
  if (type === '1') { send('0', [[112, msg.get(112)]]); log(`TestRequest ${msg.get(112)} answered`); }
  else if (type === '2') {  // we keep no application messages: one gap fill over the range
    send('4', [[123, 'Y'], [36, outSeq]], Number(msg.get(7)), [[43, 'Y'], [122, sendingTime()]]);
    log(`gap fill ${msg.get(7)}..${outSeq}`);
  } else if (type === '5') {
    log(`venue logout: ${msg.get(58) || ''}`);
    if (logoutSent) sock.destroy(); else { logout(''); sock.end(); }
  } else log(`received ${type}`);
}

function tick() {  // every 100 ms: heartbeat, TestRequest after 1.2 x HeartBtInt of silence, dead at 2 x
  const now = Date.now(), hb = cfg.heartbeat * 1000;
  if (!loggedOn || logoutSent) return;
  if (now - lastSent >= hb) send('0', []);
  if (now - lastRecv >= 2 * hb) { log('venue silent: disconnecting'); sock.destroy(); return; }
  if (now - lastRecv >= 1.2 * hb && testReqId === null) {
    testReqId = 'NODE' + now;
    send('1', [[112, testReqId]]);
  }
}

function connect() {
  const reset = !retransmission || logons === 0 || forceReset;  // spec 01 §5.1
  forceReset = false;
  if (reset) { outSeq = 1; inSeq = 1; }
  loggedOn = false; logoutSent = false; resendPending = false; resendUntil = 0; buffer = Buffer.alloc(0);
  log(`connecting to ${cfg.host}:${cfg.port}`);
  sock = tls.connect({ host: cfg.host, port: cfg.port, servername: 'localhost', minVersion: 'TLSv1.2',
                       ca: cfg.caFile ? fs.readFileSync(cfg.caFile) : undefined });
  sock.on('secureConnect', () => {
    lastRecv = Date.now();
    const body = [[98, 0], [108, cfg.heartbeat]].concat(reset ? [[141, 'Y']] : [], [[1137, 9]]);
    send('A', body);
    log(`logon sent reset=${reset ? 'Y' : 'N'}`);
    timer = setInterval(tick, 100);
  });
  sock.on('data', (data) => {
    lastRecv = Date.now();
    buffer = Buffer.concat([buffer, data]);
    for (const msg of frames()) onMessage(msg);
  });
  sock.on('error', (err) => log(`connection error: ${err.message}`));
  sock.on('close', () => {
    clearInterval(timer);
    sock = null;
    if (stopping) { log('exit'); process.exit(0); }
    const delay = Math.min(30, 2 ** Math.min(attempt, 16)) * (1 + Math.random() / 2);  // 1-1.5 s, 2-3 s, ...
    attempt++;
    log(`disconnected; reconnecting in ${delay.toFixed(2)} s`);
    setTimeout(connect, delay * 1000);
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  if (sock && loggedOn && !logoutSent) logout('');
  else if (sock) sock.destroy();
  else process.exit(0);
});
connect();
