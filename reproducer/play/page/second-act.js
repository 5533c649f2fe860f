// The second act's page: the learner chooses the outage, the fleet and the policy; the server
// runs the model in virtual time and sends back the series, its chart and the verdict. Plain
// JavaScript, no build step, nothing external. The choice lives in the link
// (#policy=P&hosts=N&outage=S), so a link shows the same run.
"use strict";

let setup = null;
let asked = 0;       // the latest run asked for: older answers are dropped
let timer = null;
const maps = {};     // boundary maps by policy, once fetched

// -- the choice ---------------------------------------------------------------------------

function choice() {
  const checked = document.querySelector("#policies input:checked");
  return { policy: checked ? checked.value : setup.default.policy,
           hosts: Number($("hosts").value), outage_s: Number($("outage").value) };
}

function setChoice(c) {
  $("hosts").value = c.hosts;
  $("outage").value = c.outage_s;
  const radio = document.querySelector(`#policies input[value="${CSS.escape(c.policy)}"]`);
  if (radio) radio.checked = true;
  drawChoice();
}

function readLink() {
  const p = new URLSearchParams(location.hash.slice(1));
  const d = setup.default;
  return { policy: p.get("policy") || d.policy, hosts: Number(p.get("hosts") || d.hosts),
           outage_s: Number(p.get("outage") || d.outage_s) };
}

function drawChoice() {
  const c = choice();
  $("outage-value").textContent = `${c.outage_s.toFixed(1)} s`;
  $("hosts-value").textContent = String(c.hosts);
  const f = setup.fleet;
  const steady = (2 * c.hosts / f.lease_s);
  $("fleet-facts").textContent =
    `Leases of ${f.lease_s} s, renewed with half left: a healthy fleet renews ${steady.toFixed(0)}` +
    `/s. The lease table serves ${f.capacity} attempts at once, ${setup.service_rate_per_s.toFixed(1)}` +
    `/s; an attempt times out after ${f.timeout_s} s.` +
    (c.hosts > setup.viable_hosts ? " This fleet needs more than the pool serves even without" +
     " an outage." : "");
}

function schedule() {
  drawChoice();
  clearTimeout(timer);
  timer = setTimeout(run, 120);
}

// -- a run --------------------------------------------------------------------------------

async function run() {
  const c = choice();
  history.replaceState(null, "", `#policy=${encodeURIComponent(c.policy)}&hosts=${c.hosts}` +
                                 `&outage=${c.outage_s}`);
  const mine = ++asked;
  try {
    const answer = await api("POST", "/api/second-act/run", c);
    if (mine !== asked) return;
    say("");
    show(answer);
  } catch (err) {
    if (mine === asked) say(err.message);
  }
  drawMap(c.policy);
}

function show(a) {
  const v = a.verdict;
  const banner = $("verdict");
  banner.className = "banner " + (v.recovered ? "ok" : "bad");
  const when = v.recovery_s === null ? "" : v.recovery_s === 0 ? " No lease was lost." :
    ` Every lease held again ${v.recovery_s.toFixed(2)} s after the repair.`;
  banner.textContent = (v.recovered ? "Recovered. " : "Collapsed: DNS is healthy, the fleet is " +
    "not. ") + `Goodput ${v.goodput_per_s.toFixed(1)} leases/s from ${v.window[0].toFixed(1)} s ` +
    `to ${v.window[1].toFixed(1)} s, once DNS had been healthy for ${setup.healthy_for_s} s ` +
    `(needs ${v.floor_per_s.toFixed(1)}/s).` + when;
  banner.setAttribute("data-recovered", String(v.recovered));
  const n = a.numbers;
  $("numbers").replaceChildren(
    el("div", {}, el("b", {}, `${n.steady_rate_per_s.toFixed(0)}/s`), "a healthy fleet's goodput"),
    el("div", {}, el("b", { id: "peak-queue" }, String(n.peak_queue)), "most attempts queued"),
    el("div", {}, el("b", { id: "queue-at-end" }, String(n.queue_at_end)), "queued at the end"),
    el("div", {}, el("b", {}, `${n.leases_at_end}/${a.scenario.hosts}`), "leases held at the end"),
    el("div", {}, el("b", {}, String(n.wasted_after_repair)), "attempts wasted after the repair"));
  // The chart is the server's own SVG (series_svg), every text in it escaped there.
  $("chart").innerHTML = a.svg;
  $("rows").textContent = a.rows.join("\n");
}

// -- the map ------------------------------------------------------------------------------

async function drawMap(policy) {
  $("map-policy").textContent = policy;
  if (!maps[policy]) {
    $("boundary").textContent = "The map is being computed…";
    try {
      maps[policy] = await api("GET", `/api/second-act/boundary/${encodeURIComponent(policy)}`);
    } catch (err) {
      $("boundary").textContent = "The map could not be computed: " + err.message;
      return;
    }
  }
  if (choice().policy !== policy) return;
  const m = maps[policy];
  const c = choice();
  const nearest = (values, x) => values.reduce((a, b) => Math.abs(b - x) < Math.abs(a - x) ? b : a);
  const near = { outage: nearest(m.outages_s, c.outage_s), hosts: nearest(m.hosts, c.hosts) };
  const cells = new Map(m.cells.map(([o, h, r, g, s]) => [`${o}/${h}`, { r, g, s }]));
  const head = el("tr", {}, el("th", {}, "hosts"),
                  ...m.outages_s.map((o) => el("th", {}, `${o}`)));
  const rows = [...m.hosts].reverse().map((h) => el("tr", {}, el("th", {}, String(h)),
    ...m.outages_s.map((o) => {
      const cell = cells.get(`${o}/${h}`);
      const td = el("td", {
        class: (cell.r ? "recovered" : "collapsed") +
               (o === near.outage && h === near.hosts ? " chosen" : ""),
        title: `${h} hosts, outage ${o} s: ${cell.r ? "recovered" : "collapsed"}, goodput ` +
               `${cell.g.toFixed(1)}/s`,
        "data-outage": String(o), "data-hosts": String(h),
      }, cell.r ? "" : "#");
      td.addEventListener("click", () => { setChoice({ policy, hosts: h, outage_s: o }); run(); });
      return td;
    })));
  $("boundary").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// -- start --------------------------------------------------------------------------------

async function start() {
  setup = await api("GET", "/api/second-act");
  $("healthy-for").textContent = String(setup.healthy_for_s);
  for (const [name, [low, high]] of Object.entries(setup.bounds)) {
    const input = $(name === "outage_s" ? "outage" : "hosts");
    input.min = low; input.max = high;
  }
  $("policies").replaceChildren(...setup.policies.map((p) => {
    const radio = el("input", { type: "radio", name: "policy", value: p.name });
    radio.addEventListener("change", schedule);
    return el("label", { "data-policy": p.name }, radio, " ", el("b", {}, p.name),
              el("span", { class: "about" }, p.about));
  }));
  $("outage").addEventListener("input", schedule);
  $("hosts").addEventListener("input", schedule);
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => {
      const [policy, hosts, outage] = button.dataset.preset.split(",");
      setChoice({ policy, hosts: Number(hosts), outage_s: Number(outage) });
      run();
    });
  }
  setChoice(readLink());
  run();
}

start().catch((err) => say("The page could not start: " + (err.message || err)));
