// The play page: you are the scheduler. Plain JavaScript, no build step, nothing external.
// The server owns the worlds; this page owns the position (in the link: #c=CHALLENGE&m=MOVES,
// one letter per move: p = planner, N = enactor-N) and the progress (localStorage).
"use strict";

const PROGRESS_KEY = "dns-race-play/progress";

let challenges = [];     // in order, then free play
let current = null;      // the challenge being played
let view = null;         // the world as the server last described it
let hint = null;         // a worker the guide suggests
let busy = false;

// -- the link and the progress ------------------------------------------------------------

function keyOf(name) {
  if (name === "planner") return "p";
  const m = /^enactor-(\d)$/.exec(name);
  return m ? m[1] : "?";
}
function nameOf(key) { return key === "p" ? "planner" : "enactor-" + key; }

function readLink() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { challenge: params.get("c"), position: [...(params.get("m") || "")].map(nameOf) };
}
function linkFor(position) {
  return "#c=" + encodeURIComponent(current.id) + "&m=" + position.map(keyOf).join("");
}
function progress() {
  try { return JSON.parse(localStorage.getItem(PROGRESS_KEY)) || {}; } catch { return {}; }
}
function markDone(id, how) {
  const all = progress();
  if (all[id] && all[id].done) return;
  all[id] = { done: true, how };
  localStorage.setItem(PROGRESS_KEY, JSON.stringify(all));
  drawChallenges();
}

// -- talking to the server ----------------------------------------------------------------

async function openWorld(position) {
  if (view) api("POST", `/api/worlds/${view.world}/close`).catch(() => {});
  try {
    show(await api("POST", "/api/worlds", { challenge: current.id, position }));
  } catch (err) {
    if (err.status !== 400) throw err;
    say("This link's moves cannot be played here: " + err.message);
    show(await api("POST", "/api/worlds", { challenge: current.id, position: [] }));
  }
}

async function act(method, suffix, body) {
  if (busy || !view) return;
  busy = true;
  try {
    show(await api(method, `/api/worlds/${view.world}${suffix}`, body));
    say("");
  } catch (err) {
    if (err.status === 404) {  // the world expired: rebuild it from the moves we have
      const position = view.position;
      view = null;
      await openWorld(position);
      say("Your world had been closed while idle; it was rebuilt from your moves. Try again.");
    } else {
      say(err.message);
      if (err.status === 409) show(await api("GET", "/api/worlds/" + view.world));
    }
  } finally {
    busy = false;
  }
}

const move = (worker) => act("POST", "/move", { worker, at: view.at });
const undo = () => act("POST", "/undo", { at: view.at });
const reset = () => act("POST", "/reset");

async function askGuide(andHint) {
  if (!view) return;
  const box = $("guide");
  box.hidden = false;
  box.textContent = "The guide is searching every schedule from here…";
  try {
    const g = await api("GET", `/api/worlds/${view.world}/guide`);
    if (g.at !== view.at) return;
    hint = andHint && g.next ? g.next : null;
    box.textContent = "Guide: " + g.text +
      (hint ? ` A shortest way moves ${hint} next (press ${g.next_key}).` : "");
    drawLanes();
  } catch (err) {
    box.textContent = "The guide could not answer: " + err.message;
  }
}

// -- drawing ------------------------------------------------------------------------------

function drawChallenges() {
  const done = progress();
  const list = $("challenge-list");
  list.replaceChildren();
  challenges.forEach((c, i) => {
    const mark = done[c.id] && done[c.id].done ? el("span", { class: "done" }, " ✓ done") : null;
    const button = el("button", { type: "button", "data-challenge": c.id },
                      `${c.kind === "free" ? "★" : i + 1 + "."} ${c.title}`, mark);
    if (current && c.id === current.id) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => choose(c.id));
    list.append(el("li", {}, button));
  });
}

function drawGoal() {
  const goal = $("goal");
  goal.replaceChildren(el("strong", {}, current.title), el("br"), current.goal, el("br"),
                       el("span", { class: "small" }, `variant ${view.label}: ${view.summary}`));
  if (current.kind === "hold") {
    const why = el("button", { type: "button", id: "why" }, "Why can't it be done?");
    why.addEventListener("click", explainHold);
    goal.append(el("br"), why);
  }
}

function drawLanes() {
  const lanes = $("lanes");
  lanes.replaceChildren();
  for (const w of view.workers) {
    const state = w.finished ? "finished" : w.ready ? "ready" : "waiting";
    const lane = el("button", {
      type: "button", class: `lane ${state}` + (hint === w.name ? " hinted" : ""),
      "data-worker": w.name, "aria-disabled": String(!w.ready),
      title: w.ready ? `move ${w.name} (key ${w.key})` : `${w.name} cannot move now`,
    },
      el("span", { class: "key" }, el("kbd", {}, w.key)),
      el("span", { class: "name" }, w.name, el("span", { class: "state" }, state)),
      el("span", {}, el("span", { class: "next" }, (w.finished ? "" : "Next: ") + w.next),
         w.note ? el("span", { class: "note" }, "So far: " + w.note) : null));
    lane.addEventListener("click", () => {
      if (w.ready) move(w.name); else say(`${w.name} cannot move now: it ${w.next}.`);
    });
    lanes.append(lane);
  }
}

function drawLast() {
  const box = $("last");
  const step = view.steps[view.steps.length - 1];
  if (!step) { box.textContent = "No worker has moved yet."; return; }
  const who = step.kind === "query" || step.kind === "update" ? "DNS answered"
    : step.kind === "store" ? "the store answered" : "done";
  box.replaceChildren(
    el("span", { class: "said" }, el("strong", {}, `Step ${step.index} — ${step.worker}: `),
       step.action),
    el("span", { class: "answer" }, `${who}: `, el("code", { id: "last-answer" }, step.outcome)),
    step.note ? el("span", { class: "small" }, `${step.worker} now: ${step.note}`) : null);
}

function drawHistory() {
  const list = $("history");
  list.replaceChildren(...view.steps.map((s) => el("li", { class: s.violations.length ? "broke" : "" },
    `${s.worker}: ${s.action} → ${s.outcome}`)));
  list.scrollTop = list.scrollHeight;
}

function drawDns() {
  $("endpoints").replaceChildren(...view.endpoints.map((e) => {
    const empty = e.addresses.length === 0;
    return el("div", { class: "card" + (empty ? " empty" : ""), "data-endpoint": e.endpoint },
      el("span", { class: "dnsname mono" }, e.name),
      e.alias ? el("span", { class: "rr mono" }, `CNAME ${e.alias}` +
                   (e.generation ? ` (g${e.generation})` : "")) : null,
      empty ? el("span", { class: "rr noaddr" }, `${e.rcode} — no address: the record is empty`)
            : el("span", { class: "rr mono" }, `${e.rcode} A ${e.addresses.join(", ")}`));
  }));
  const [host, port] = view.dns.split(":");
  $("dig").replaceChildren("Ask this world's DNS server yourself: ",
    el("code", {}, `dig @${host} -p ${port} ${view.endpoints[0].name} A`));
  const lock = view.lock;
  $("lock").replaceChildren(el("div", { class: "card" },
    el("span", { class: "rr" }, lock.holder ? `held by ${lock.holder} until t=${lock.expires_ms} ms`
                                             : "free"),
    el("span", { class: "rr mono small" }, lock.answer || "")));
  const active = new Set(view.endpoints.map((e) => e.generation));
  $("plans").replaceChildren(el("div", { class: "plans" },
    ...view.plans.map((p) => el("span", {
      class: "plan" + (active.has(p.generation) ? " active" : ""),
      title: Object.entries(p.targets).map(([k, v]) => `${k}: ${v.join(" ")}`).join("; "),
    }, `g${p.generation}`)),
    view.plans.length ? null : el("span", { class: "small" }, "none")),
    el("p", { class: "small" }, (view.sealed ? "The planner has stopped. " : "") +
       "Green: a plan some endpoint is on."));
  const broken = new Set(view.violations.map((v) => String(v.invariant)));
  $("invariants").replaceChildren(...Object.entries(view.invariants).map(([n, title]) =>
    el("li", { class: broken.has(n) ? "broken" : "", "data-invariant": n },
       `${n}. ${title}` + (broken.has(n) ? " — BROKEN" : ""))));
  $("clock").textContent = `Virtual clock: t=${view.clock_ms} ms · move ${view.at}`;
}

function drawBanner() {
  const banner = $("banner");
  if (view.violations.length) {
    banner.className = "banner bad";
    banner.textContent = view.violations.map((v) => v.sentence).join(" · ");
    banner.hidden = false;
  } else if (view.finished) {
    banner.className = "banner ok";
    banner.textContent = "Every worker has finished and no invariant broke.";
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

function show(next) {
  if (!view || next.at !== view.at || next.world !== view.world) hint = null;
  view = next;
  history.replaceState(null, "", linkFor(view.position));
  $("share").href = linkFor(view.position);
  $("export").href = `/api/worlds/${view.world}/replay`;
  $("undo").disabled = view.at === 0;
  $("guide").hidden = true;
  drawGoal(); drawLanes(); drawLast(); drawHistory(); drawDns(); drawBanner();
  judge();
}

// -- the challenges -----------------------------------------------------------------------

function lesson(text) {
  const box = $("lesson");
  box.textContent = text;
  box.hidden = !text;
}

async function judge() {
  lesson("");
  if (current.kind === "free") return;
  const broke = view.violations.length > 0;
  if (current.kind === "break" && broke) {
    markDone(current.id, view.at);
    lesson(`Done in ${view.at} moves. ${current.lesson}`);
  } else if (current.kind === "fewest" && broke) {
    const proof = await api("GET", `/api/challenges/${current.id}/proof`);
    if (view.at <= proof.minimum) {
      markDone(current.id, view.at);
      lesson(`${view.at} moves: the minimum. ${current.lesson} (It searched ` +
             `${proof.states.toLocaleString("en")} states.)`);
    } else {
      lesson(`You took ${view.at} moves; the fewest possible is ${proof.minimum}. ` +
             "Undo and find a shorter way.");
    }
  } else if (current.kind === "hold" && view.finished && !broke) {
    markDone(current.id, "held");
    lesson("It held. " + current.lesson);
  }
}

async function explainHold() {
  lesson("Searching every schedule of this world…");
  const p = await api("GET", `/api/challenges/${current.id}/proof`);
  markDone(current.id, "explained");
  const verdict = p.found ? `it found a way in ${p.minimum} moves (!)`
    : `none of them breaks an invariant` + (p.exhausted ? ", and it reached them all" : "");
  lesson(`Breadth-first search from the start explored ${p.states.toLocaleString("en")} distinct ` +
         `states of this world (${p.variant}, ${p.enactors} enactors, ${p.plans} new plan, ` +
         `up to ${p.max_steps} steps): ${verdict}. Why: ${current.lesson}`);
}

async function choose(id) {
  const next = challenges.find((c) => c.id === id);
  if (!next || (current && next.id === current.id)) return;
  current = next;
  lesson("");
  say("");
  drawChallenges();
  await openWorld([]);
}

// -- keys ---------------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || !view) return;
  const key = event.key.toLowerCase();
  const worker = view.workers.find((w) => w.key === key);
  if (worker) { event.preventDefault(); $("lanes").querySelector(`[data-worker="${worker.name}"]`).click(); }
  else if (key === "u") undo();
  else if (key === "r") reset();
  else if (key === "g") askGuide(false);
  else if (key === "h") askGuide(true);
  else if (key === "e") $("export").click();
  else if (key === "n") {
    const at = challenges.findIndex((c) => c.id === current.id);
    choose(challenges[(at + 1) % challenges.length].id);
  }
});

async function start() {
  $("undo").addEventListener("click", undo);
  $("reset").addEventListener("click", reset);
  $("ask-guide").addEventListener("click", () => askGuide(false));
  $("hint").addEventListener("click", () => askGuide(true));
  $("share").addEventListener("click", async (event) => {
    event.preventDefault();
    const url = location.href;
    try { await navigator.clipboard.writeText(url); say("Link copied: " + url); }
    catch { say("The link to this position: " + url); }
  });
  window.addEventListener("pagehide", () => {
    if (view) navigator.sendBeacon(`/api/worlds/${view.world}/close`);
  });
  const data = await api("GET", "/api/challenges");
  challenges = [...data.challenges, data.free];
  window.addEventListener("hashchange", () => followLink().catch((err) => say(err.message)));
  await followLink();
}

// The game the link names: the first visit starts the first challenge not done yet.
async function followLink() {
  const link = readLink();
  const done = progress();
  current = challenges.find((c) => c.id === link.challenge)
    || challenges.find((c) => !(done[c.id] && done[c.id].done)) || challenges[challenges.length - 1];
  say("");
  lesson("");
  drawChallenges();
  await openWorld(link.challenge === current.id ? link.position : []);
}

start().catch((err) => say("The page could not start: " + (err.message || err)));
