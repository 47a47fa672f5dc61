// The web view (issue 17 §1). Plain ES module, no build step, no CDN. It only uses the JSON API:
// the documents of JSON routes pushed over /ws under their route (simulator/web.py), and
// GET /messages/{id} for a message's field table.

const docs = {};          // route -> last document
const messages = [];      // journal rows, oldest first (ids ascending)
const MAX_ROWS = 2000;
let selected = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function table(id, headers, rows, empty = "none yet") {
  const node = $(id);
  node.replaceChildren();
  if (!rows.length) {
    node.append(el("tr", {}, el("td", { class: "none" }, empty)));
    return;
  }
  node.append(el("tr", {}, headers.map((h) => el("th", {}, h))));
  for (const row of rows) node.append(el("tr", {}, row.map((c) => (c instanceof Node && c.tagName === "TD") ? c : el("td", {}, c))));
}

const time = (t) => (t === null || t === undefined) ? "" : new Date(t * 1000).toISOString().slice(11, 23);
const ago = (t) => (t === null || t === undefined) ? "" : `${time(t)}`;
const cents = (p) => {
  const v = Number(p) * 100;
  return (Number.isInteger(Math.round(v * 100) / 100) ? v.toFixed(0) : v.toFixed(2).replace(/0+$/, "")) + "¢";
};
const state = (s) => el("td", { class: `state-${s}` }, s);

// --- overview -----------------------------------------------------------------------------

function overview() {
  const status = docs["/status"];
  if (status) {
    const rows = Object.entries(status.products).map(([p, s]) => {
      const markets = docs[`/markets?product=${p}`] || [];
      const halted = markets.filter((m) => m.status !== "open").length;
      return [p, state(s.state), s.source || "", markets.length, halted ? `${halted} not open` : "all open"];
    });
    table("products", ["product", "trading", "why", "markets", "market status"], rows);
    const sched = status.schedule;
    $("schedule").replaceChildren(sched
      ? el("div", {}, `${["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][sched.weekday] ?? sched.weekday} `,
        `${sched.start}–${sched.end} ${sched.timezone} (${sched.kind} pause)`, el("br"),
        `next: ${new Date(sched.next_window[0] * 1000).toISOString().replace("T", " ").slice(0, 16)} UTC`)
      : el("span", { class: "none" }, "off here (kalshi-fixsim serve runs it)"));
    if (status.maintenance) $("schedule").append(el("div", { class: "state-paused" }, `maintenance until ${time(status.maintenance.until)}`));
  }
  const endpoints = docs["/endpoints"] || [];
  table("endpoints", ["product", "session", "TargetCompID", "port", "TLS"],
    endpoints.map((e) => [e.product, e.session, e.comp_id, e.port, e.tls ? "yes" : "no"]));
  const faults = docs["/faults"] || [];
  table("faults", ["id", "fault", "where", "hits", "active"],
    faults.map((f) => [f.id, f.fault, [f.product, f.session, f.account, f.direction].filter(Boolean).join(" "),
      el("td", { class: "hits", "data-rule": f.id }, f.hits), f.active ? "yes" : "no"]), "no fault rules");
  const runs = docs["/runs"] || [];
  table("runs", ["kind", "name", "verdict", "passed", "failed", "at"],
    runs.map((r) => [r.kind, r.name, el("td", { class: r.verdict }, r.verdict), r.passed, r.failed, time(r.time)]));
}

// --- sessions -----------------------------------------------------------------------------

function sessions() {
  const live = docs["/sessions"] || [];
  table("connected", ["account", "product", "session", "listener", "seq in (next)", "seq out (next)", "heartbeat",
    "last in", "last out", "API key"],
    live.map((s) => [s.account, s.product, s.session, s.listener ? "yes" : "no", s.next_seq_in, s.next_seq_out,
      `${s.heartbeat ?? ""} s`, ago(s.last_in), ago(s.last_out), s.api_key]), "no session logged on");
  const gone = docs["/sessions/recent"] || [];
  table("disconnected", ["account", "product", "session", "at", "reason", "text"],
    gone.map((s) => [s.account, s.product, s.session, time(s.time), s.reason, s.text]), "none yet");
  const select = $("f-session");
  const known = new Set([...select.options].map((o) => o.value));
  for (const id of new Set(messages.map((m) => m.session).filter(Boolean))) {
    if (!known.has(id)) select.append(el("option", { value: id }, id));
  }
}

// --- messages -----------------------------------------------------------------------------

function shown(m) {
  const session = $("f-session").value, type = $("f-type").value.trim(), id = $("f-id").value.trim();
  return (!session || m.session === session) && (!type || m.msg_type === type) &&
    (!id || m.cl_ord_id === id || m.order_id === id || m.line.includes(`=${id} `) || m.line.endsWith(`=${id}`));
}

function who(m) {
  // "alice NR": the account of a session id (GET /sessions, /sessions/recent), else the id itself
  const rows = [...(docs["/sessions"] || []), ...(docs["/sessions/recent"] || [])];
  const found = rows.find((s) => s.session_id === m.session);
  const [product, code] = (m.session || m.endpoint).split("/");
  return found ? `${found.account} ${product === "prediction" ? "" : product + " "}${code}` : (m.session || `${m.endpoint}/-`);
}

function timeline() {
  const rows = messages.filter(shown).slice(-500);
  const node = $("timeline");
  node.replaceChildren(el("tr", {}, ["time", "session", "dir", "message"].map((h) => el("th", {}, h))));
  for (const m of rows) {
    const line = el("td", { class: "line", title: m.line }, m.fault ? el("span", { class: "fault-mark" }, m.fault) : null,
      m.line);
    const tr = el("tr", { "data-id": m.id, class: m.id === selected ? "sel" : "", onclick: () => detail(m.id) },
      el("td", {}, time(m.time)), el("td", { title: m.session || m.endpoint }, who(m)),
      el("td", { class: `dir-${m.direction}` }, m.direction === "in" ? "→ in" : "← out"), line);
    node.append(tr);
  }
  $("m-count").textContent = `${rows.length} of ${messages.length} kept`;
  const box = node.parentElement;
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 80) box.scrollTop = box.scrollHeight;
}

async function detail(id) {
  selected = id;
  timeline();
  const aside = $("detail");
  const answer = await fetch(`/messages/${id}`);
  const m = await answer.json();
  if (!answer.ok) { aside.replaceChildren(el("p", { class: "none" }, m.error)); return; }
  aside.replaceChildren(el("h3", {}, `#${m.id} ${m.msg_type} ${m.name} (${m.direction}, ${m.session || m.endpoint})`),
    m.fault ? el("p", {}, el("span", { class: "fault-mark" }, m.fault)) : "",
    el("table", { id: "fields" }, el("tr", {}, ["tag", "name", "value", ""].map((h) => el("th", {}, h))),
      m.fields.map((f) => el("tr", {}, el("td", {}, "\u00a0\u00a0".repeat(f.depth) + f.tag), el("td", {}, f.name),
        el("td", {}, f.value), el("td", {}, f.enum)))));
}

// --- markets ------------------------------------------------------------------------------

function perpLadder(product, market, book) {
  // margin (perps): prices in dollars, a bid and an ask side
  const t = el("table", { class: "ladder" }, el("tr", {}, el("th", {}, "ask"), el("th", {}, "bid"), el("th", {}, "qty")));
  for (const a of [...book.asks].reverse()) t.append(el("tr", {}, el("td", { class: "no" }, `$${a.price}`), el("td"), el("td", { class: "qty no" }, a.qty)));
  book.bids.forEach((b, i) => t.append(el("tr", { class: i === 0 && book.asks.length ? "spread" : "" }, el("td"),
    el("td", { class: "yes" }, `$${b.price}`), el("td", { class: "qty yes" }, b.qty))));
  if (!book.bids.length && !book.asks.length) t.append(el("tr", {}, el("td", { class: "none", colspan: 3 }, "empty book")));
  return el("div", { class: "card book", "data-ticker": market.ticker },
    el("h3", {}, `${market.ticker} `, el("span", { class: `state-${market.status}` }, market.status), ` · ${product}`), t);
}

function ladder(product, market, book) {
  if (product !== "prediction") return perpLadder(product, market, book);
  const bids = book.bids, asks = book.asks;  // YES bids; YES asks = NO bids at 1 - price
  const most = Math.max(1, ...bids.map((l) => Number(l.qty)), ...asks.map((l) => Number(l.qty)));
  const bar = (q) => el("span", { class: "bar", style: `width:${Math.round(40 * Number(q) / most)}px` });
  const n = Math.max(bids.length, asks.length, 1);
  const kalshi = el("table", { class: "ladder" }, el("tr", {}, el("th", {}, "YES bids"), el("th", {}, "qty"),
    el("th", {}, "NO bids"), el("th", {}, "qty")));
  for (let i = 0; i < n; i++) {
    const b = bids[i], a = asks[i];
    kalshi.append(el("tr", {}, el("td", { class: "yes" }, b ? cents(b.price) : ""),
      el("td", { class: "qty yes" }, b ? [b.qty, " ", bar(b.qty)] : ""),
      el("td", { class: "no" }, a ? cents(1 - Number(a.price)) : ""),
      el("td", { class: "qty no" }, a ? [a.qty, " ", bar(a.qty)] : "")));
  }
  const yes = el("table", { class: "ladder" }, el("tr", {}, el("th", {}, "YES ask"), el("th", {}, "YES bid"), el("th", {}, "qty")));
  for (const a of [...asks].reverse()) yes.append(el("tr", {}, el("td", { class: "no" }, cents(a.price)), el("td"), el("td", { class: "qty no" }, a.qty)));
  let first = true;
  for (const b of bids) {
    yes.append(el("tr", { class: first && asks.length ? "spread" : "" }, el("td"), el("td", { class: "yes" }, cents(b.price)),
      el("td", { class: "qty yes" }, b.qty)));
    first = false;
  }
  if (!bids.length && !asks.length) yes.append(el("tr", {}, el("td", { class: "none", colspan: 3 }, "empty book")));
  return el("div", { class: "card book", "data-ticker": market.ticker },
    el("h3", {}, `${market.ticker} `, el("span", { class: `state-${market.status}` }, market.status), ` · ${product}`),
    el("div", { class: "cards" }, kalshi, yes));
}

function markets() {
  const box = $("books");
  box.replaceChildren();
  const trades = [], accounts = [];
  for (const product of Object.keys((docs["/status"] || { products: {} }).products)) {
    for (const market of docs[`/markets?product=${product}`] || []) {
      const book = Object.entries(docs).find(([k]) => k.startsWith(`/books/${market.ticker}?product=${product}&`));
      if (book && book[1]) box.append(ladder(product, market, book[1]));
    }
    for (const t of docs[`/trades?product=${product}`] || []) {
      trades.push([product, t.ticker, t.price === null ? t.last_px : cents(t.price), t.qty, time(t.time), t.trade_id]);
    }
    for (const a of docs[`/accounts?product=${product}`] || []) {
      accounts.push([product, a.account, `$${a.balance}`, `$${a.reserved ?? ""}`, `$${a.available}`, a.open_orders,
        a.positions.map((p) => `${p.ticker} ${Number(p.net_yes) >= 0 ? "YES" : "NO"} ${Math.abs(Number(p.net_yes))}`).join(", ")]);
    }
  }
  table("trades", ["product", "ticker", "YES price", "qty", "at", "trade id"], trades, "no trades yet");
  table("accounts", ["product", "account", "balance", "reserved", "available", "open orders", "positions"], accounts);
}

// --- the feed -----------------------------------------------------------------------------

function apply(update) {
  for (const [path, doc] of Object.entries(update.docs || {})) {
    if (doc === null) delete docs[path]; else docs[path] = doc;
  }
  for (const m of update.messages || []) messages.push(m);
  if (messages.length > MAX_ROWS) messages.splice(0, messages.length - MAX_ROWS);
  overview();
  sessions();
  if ((update.messages || []).length) timeline();
  markets();
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  const badge = $("live");
  ws.onopen = () => { badge.textContent = "live"; badge.className = "badge on"; };
  ws.onmessage = (event) => apply(JSON.parse(event.data));
  ws.onclose = () => {
    badge.textContent = "disconnected: retrying"; badge.className = "badge off";
    setTimeout(connect, 1000);
  };
}

for (const id of ["f-session", "f-type", "f-id"]) $(id).addEventListener("input", timeline);
$("filters").addEventListener("submit", (e) => e.preventDefault());
connect();
