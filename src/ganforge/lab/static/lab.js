// ganforge lab: one LabView per panel, each with its own WebSocket session on the server.
"use strict";

const COLORS = { real: "#1b7837", fake: "#762a83", manifold: "rgba(118,42,131,0.45)", arrow: "#333",
  noise: "#999", blue: "#4393c3", red: "#d6604d" };

// The model overview graph: nodes and edges, each lit in the phases (0-5) of a step that use it.
const NODES = [  // id, label, x, y, phases
  ["z", "noise z", 45, 40, [0, 1]], ["G", "G", 150, 40, [1, 5]], ["fake", "fake samples", 270, 40, [1, 2, 4]],
  ["real", "real samples", 270, 115, [0, 2]], ["D", "D", 390, 78, [2, 3, 4, 5]],
  ["pred", "predictions", 495, 78, [2, 4]], ["lossD", "D loss", 595, 40, [2, 3]], ["lossG", "G loss", 595, 115, [4, 5]],
];
const EDGES = [  // id, path, phases, gradient?
  ["z-G", "M80 40 L128 40", [1]], ["G-fake", "M172 40 L222 40", [1]],
  ["fake-D", "M318 40 L368 70", [2, 4]], ["real-D", "M318 115 L368 86", [2]],
  ["D-pred", "M412 78 L450 78", [2, 4]], ["pred-lossD", "M540 70 L568 48", [2]],
  ["pred-lossG", "M540 86 L568 108", [4]],
  ["grad-lossD-D", "M595 28 C560 0 420 0 395 58", [3], true],
  ["grad-lossG-D", "M595 128 C560 150 420 150 395 98", [5], true],
  ["grad-D-G", "M372 84 C300 150 170 150 150 60", [5], true],
];
const SVGNS = "http://www.w3.org/2000/svg";

class LabView {
  constructor(root) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.qa = (sel) => Array.from(root.querySelectorAll(sel));
    this.canvas = this.q('[data-role="field"]');
    this.ctx = this.canvas.getContext("2d");
    this.canvas1d = this.q('[data-role="density-1d"]');
    this.layers = { field: true, real: true, fake: true, manifold: false, arrows: false };
    this.history = [];
    this.frame = null;
    this.drawn = [];
    this.session = null;
    this.onFrame = null;
    this.slowPhase = -1;  // the slow-motion phase shown (0-5), -1 when none
    this.lastStep = null;
    this.sweep = null;
    this.imageSets = [];
    this.walkAt = 0;
    this.buildGraph();
    this.wire();
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${proto}://${location.host}/ws`);
    this.ws.onmessage = (ev) => this.receive(JSON.parse(ev.data));
    this.ws.onclose = () => this.setStatus("Disconnected – reload the page to start a new session", "Diverged");
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  receive(msg) {
    if (msg.type === "hello") {
      this.session = msg.session;
      this.imageSets = msg.options.image_sets || [];
      this.fillOptions(msg.options);
    } else if (msg.type === "frame") {
      if (msg.phase !== undefined) this.showPhase(msg);
      else if (this.slowPhase >= 0 && this.slowPhase < 5 && !msg.playing) return;  // a slow step is shown
      else if (this.lastStep !== null && msg.step > this.lastStep) this.animateStep();
      this.lastStep = msg.step;
      this.frame = msg;
      if (!this.history.length || msg.step < this.history[this.history.length - 1].step) this.history = [];
      if (msg.stats && msg.stats.loss_d !== null && msg.stats.loss_d !== undefined &&
          (!this.history.length || msg.step > this.history[this.history.length - 1].step)) {
        this.history.push({ step: msg.step, ...msg.stats, ...msg.quality });
        if (this.history.length > 2000) this.history = this.history.filter((_, i) => i % 2 === 0);
      }
      this.syncControls(msg.settings, msg.speed);
      this.render();
      if (this.onFrame) this.onFrame(msg);
    } else if (msg.type === "error") {
      this.showError(msg.message);
    }
  }

  fillOptions(opts) {
    const fill = (key, values) => {
      const sel = this.q(`[data-key="${key}"]`);
      sel.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
    };
    fill("loss", opts.losses);
    fill("penalty", opts.penalties);
    fill("optimizer", opts.optimizers);
    fill("noise", opts.noises);
    this.syncControls(opts.defaults, 4);
  }

  syncControls(settings, speed) {
    if (!settings) return;
    for (const el of this.qa("[data-key]")) {
      if (el === document.activeElement) continue;
      const key = el.dataset.key;
      const v = key === "speed" ? speed : settings[key];
      if (v === undefined) continue;
      if (el.type === "checkbox") el.checked = !!v;
      else if (String(el.value) !== String(v)) el.value = v;
    }
    const images = this.isImages(settings.dataset);
    for (const el of this.qa('[data-role="image-only"]')) el.hidden = !images;
    for (const el of this.qa('[data-role="points-only"]')) el.hidden = images;
    const user = settings.dataset === "draw" || settings.dataset === "csv";
    this.q('[data-role="draw-hint"]').hidden = settings.dataset !== "draw";
    this.q('[data-act="export-points"]').hidden = !user;
    const ph = this.q('[data-role="export-points-hint"]');
    if (ph) ph.hidden = !user;
  }

  wire() {
    for (const el of this.qa("[data-key]")) {
      el.addEventListener("change", () => this.changed(el));
    }
    for (const el of this.qa("[data-layer]")) {
      el.addEventListener("change", () => { this.layers[el.dataset.layer] = el.checked; this.render(); });
    }
    const acts = {
      play: () => { this.q('[data-role="slow-motion"]').checked = false; this.slowMode(false); this.send({ type: "play" }); },
      pause: () => this.send({ type: "pause" }),
      step: () => { this.leaveSlow(); this.send({ type: "step", which: "both" }); },
      "step-d": () => { this.leaveSlow(); this.send({ type: "step", which: "d" }); },
      "step-g": () => { this.leaveSlow(); this.send({ type: "step", which: "g" }); },
      reset: () => { this.history = []; this.leaveSlow(); this.send({ type: "reset" }); },
      "slow-next": () => this.slowNext(),
      "export-model": () => this.download("checkpoint"),
      "export-config": () => this.download("config.yaml"),
      "export-points": () => this.download("points.csv"),
      "clear-points": () => { this.drawn = []; this.render(); },
    };
    for (const el of this.qa("[data-act]")) {
      el.addEventListener("click", () => acts[el.dataset.act]());
    }
    const walk = this.q('[data-role="walk"]');
    walk.addEventListener("input", () => { this.walkAt = Number(walk.value); if (this.frame) this.drawWalk(this.frame); });
    const walkClass = this.q('[data-role="walk-class"]');
    walkClass.addEventListener("change", () => this.send({ type: "walk", walk_class: Number(walkClass.value) }));
    const slow = this.q('[data-role="slow-motion"]');
    slow.addEventListener("change", () => this.slowMode(slow.checked));
    const file = this.q('[data-role="csv-file"]');
    file.addEventListener("change", () => this.loadCsv(file.files[0]));
    this.painting = false;
    this.canvas.addEventListener("mousedown", (e) => { this.painting = this.drawing(); this.paint(e); });
    this.canvas.addEventListener("mousemove", (e) => { if (this.painting) this.paint(e); });
    window.addEventListener("mouseup", () => {
      if (this.painting && this.drawn.length >= 2) this.send({ type: "points", points: this.drawn });
      this.painting = false;
    });
  }

  // --- model graph and slow motion ---
  buildGraph() {
    const svg = this.q('[data-role="model-graph"]');
    svg.innerHTML = '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" ' +
      'markerHeight="6" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#888"/></marker></defs>';
    const el = (tag, attrs, parent) => {
      const e = document.createElementNS(SVGNS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      (parent || svg).appendChild(e);
      return e;
    };
    for (const [id, d, phases, grad] of EDGES) {
      el("path", { d, class: "edge" + (grad ? " grad" : ""), "data-edge": id, "data-phases": phases.join(" "),
        "marker-end": "url(#arrowhead)" });
    }
    for (const [id, label, x, y, phases] of NODES) {
      const g = el("g", { class: "node" + (id === "G" || id === "D" ? " net" : ""), "data-node": id,
        "data-phases": phases.join(" ") });
      const w = id === "G" || id === "D" ? 44 : 90;
      el("rect", { x: x - w / 2, y: y - 13, width: w, height: 26, rx: 6 }, g);
      el("text", { x, y: y + 4, "text-anchor": "middle" }, g).textContent = label;
    }
    el("text", { x: 6, y: 146, class: "graph-note" }).textContent =
      "solid: forward pass   dashed: gradients flowing back (how each net learns)";
  }

  lightGraph(phase) {  // phase 0-5 lights what that phase uses; -1 lights nothing
    const svg = this.q('[data-role="model-graph"]');
    svg.dataset.phase = phase;
    for (const e of svg.querySelectorAll("[data-phases]")) {
      e.classList.toggle("lit", phase >= 0 && e.dataset.phases.split(" ").includes(String(phase)));
    }
  }

  animateStep() {  // a normal step: light the graph in the order the step computes
    if (this.sweep || this.slowPhase >= 0) return;
    let k = 0;
    const next = () => {
      if (this.slowPhase >= 0 || k > 5) { this.sweep = null; if (this.slowPhase < 0) this.lightGraph(-1); return; }
      this.lightGraph(k++);
      this.sweep = setTimeout(next, 110);
    };
    next();
  }

  slowMode(on) {
    this.q('[data-role="slow-panel"]').hidden = !on;
    if (on) {
      this.send({ type: "pause" });
      this.slowPhase = -1;
      this.setPhaseText("Slow motion: press Next phase to walk through one training step, one part at a time.");
    } else {
      this.leaveSlow();
    }
  }

  leaveSlow() {  // back to the normal view (the server finishes a half-done step itself)
    if (this.slowPhase >= 0) this.send({ type: "frame" });
    this.slowPhase = -1;
    this.lightGraph(-1);
  }

  slowNext() {
    if (this.slowPhase === 5) {  // the step is done: back to normal
      this.slowPhase = -1;
      this.lightGraph(-1);
      this.send({ type: "frame" });
      this.setPhaseText("Step done: back to the normal view. Press Next phase to watch another step.");
      return;
    }
    this.send({ type: "slow", phase: this.slowPhase + 1 });
  }

  showPhase(msg) {
    if (this.sweep) { clearTimeout(this.sweep); this.sweep = null; }
    this.slowPhase = msg.phase;
    this.lightGraph(msg.phase);
    this.setPhaseText(msg.phase_text);
  }

  setPhaseText(text) {
    this.q('[data-role="phase-text"]').textContent = text;
  }

  isImages(dataset) {
    return this.imageSets.includes(dataset);
  }

  drawing() {
    return this.q('[data-key="dataset"]').value === "draw";
  }

  changed(el) {
    const key = el.dataset.key;
    let value = el.type === "checkbox" ? el.checked : el.value;
    if (el.type === "number") value = Number(value);
    if (key === "dataset" && value === "csv") {
      this.q('[data-role="csv-file"]').click();
      return;
    }
    if (key === "dataset" && value === "draw") {
      this.drawn = [];
      this.history = [];
    }
    const values = { [key]: value };
    if (key === "dataset") {
      this.history = [];
      const before = this.frame ? this.isImages(this.frame.settings.dataset) : false;
      if (this.isImages(value) !== before) values.speed = this.isImages(value) ? 0 : 4;  // images: full speed
    }
    this.send({ type: "settings", values });
  }

  loadCsv(f) {
    if (!f) return;
    f.text().then((text) => {
      const pts = [];
      for (const line of text.split(/\r?\n/)) {
        const cells = line.split(/[,;\s]+/).filter((c) => c !== "");
        if (cells.length < 2) continue;
        const x = Number(cells[0]), y = Number(cells[1]);
        if (Number.isFinite(x) && Number.isFinite(y)) pts.push([x, y]);
      }
      if (pts.length < 2) { this.showError("the CSV file needs at least 2 rows of x,y numbers"); return; }
      this.history = [];
      this.send({ type: "settings", values: { dataset: "csv" } });
      this.send({ type: "points", points: pts });
    });
  }

  download(what) {
    if (!this.session) return;
    const a = document.createElement("a");
    a.href = `/api/sessions/${this.session}/${what}`;
    a.download = "";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  showError(message) {
    const r = this.q('[data-role="reason"]');
    r.textContent = "Error: " + message;
    r.classList.add("error");
  }

  setStatus(text, state) {
    const s = this.q('[data-role="status"]');
    s.textContent = text;
    s.className = "status " + (state || "");
  }

  // --- geometry ---
  toPx(x, y) {
    const [x0, x1, y0, y1] = this.bounds();
    const w = this.canvas.width, h = this.canvas.height;
    return [((x - x0) / (x1 - x0)) * w, h - ((y - y0) / (y1 - y0)) * h];
  }

  bounds() {  // the server's window, except while painting before the first stroke is sent
    if (this.drawing() && (!this.frame || this.frame.settings.dataset !== "draw")) return [-2, 2, -2, 2];
    return this.frame ? this.frame.bounds : [-2, 2, -2, 2];
  }

  paint(e) {
    if (!this.drawing()) return;
    const rect = this.canvas.getBoundingClientRect();
    const [x0, x1, y0, y1] = this.bounds();
    const px = (e.clientX - rect.left) / rect.width, py = (e.clientY - rect.top) / rect.height;
    for (let i = 0; i < 3; i++) {
      const jx = (Math.random() - 0.5) * 0.06, jy = (Math.random() - 0.5) * 0.06;
      this.drawn.push([x0 + px * (x1 - x0) + jx, y1 - py * (y1 - y0) + jy]);
    }
    this.render();
  }

  // --- drawing ---
  render() {
    const f = this.frame;
    const ctx = this.ctx, w = this.canvas.width, h = this.canvas.height;
    ctx.clearRect(0, 0, w, h);
    const firstStroke = this.drawing() && (!f || f.settings.dataset !== "draw");
    const oneD = !firstStroke && !!(f && f.density);  // 1-D data: the GAN paper's Figure 1
    const img = !firstStroke && !!(f && f.images);  // image sets: sample grid, verdicts, histogram, walk
    this.canvas.hidden = oneD || img;
    this.canvas1d.hidden = !oneD;
    this.q('[data-role="image-view"]').hidden = !img;
    this.q('[data-role="layers-2d"]').hidden = oneD || img;
    this.q('[data-role="legend-2d"]').hidden = oneD || img;
    this.q('[data-role="legend-1d"]').hidden = !oneD;
    this.q('[data-role="legend-img"]').hidden = !img;
    if (firstStroke) {
      this.points(this.drawn, COLORS.real, 3);  // first stroke, not sent yet
      return;
    }
    if (!f) return;
    if (img) {
      if (f.phase !== undefined && this.slowPhase === f.phase) { this.renderImagePhase(f); return; }
      this.imageView(f);
    } else if (oneD) {
      this.density1d(f);
    } else {
      if (this.painting) this.points(this.drawn, COLORS.real, 3);
      if (f.phase !== undefined && this.slowPhase === f.phase) { this.renderPhase(f); return; }
      if (this.layers.field && f.field) this.field(f.field);
      if (this.layers.real) this.points(f.real, COLORS.real, 2.5);
      if (this.layers.manifold && f.manifold) this.manifold(f.manifold);
      if (this.layers.fake) this.points(f.fake, COLORS.fake, 2.5);
      if (this.layers.arrows && f.arrows) this.arrows(f.fake, f.arrows);
    }
    const st = f.stats, pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(100 * v)}%`);
    const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
    this.setStatus(`Epoch: ${f.step} – D loss: ${num(st.loss_d)} – G loss: ${num(st.loss_g)} – ` +
      `D acc: ${pct(st.d_acc)} – State: ${f.state}`, f.state);
    const src = this.q('[data-role="source"]');
    src.hidden = !f.source;
    src.textContent = f.source ? `Opened from ${f.source} (Reset starts fresh nets at step 0)` : "";
    const r = this.q('[data-role="reason"]');
    r.classList.remove("error");
    r.textContent = f.reason || "";
    this.charts();
  }

  // --- image view ---
  imageView(f) {
    const im = f.images, g = im.grid;
    const note = this.q('[data-role="grid-note"]');
    note.textContent = g.rows ? "(a row per class, the same noise in every row)" : "";
    this.tiles(this.q('[data-role="sample-grid"]'), im.shape, g.data, g.n, g.cols, g.verdict, g.rows);
    this.tiles(this.q('[data-role="real-grid"]'), im.shape, im.real.data, im.real.n, Math.min(g.cols, im.real.n),
      im.real.verdict);
    this.dHistogram(im.hist);
    this.drawWalk(f);
    this.classBars(im);
  }

  decode(b64) {  // base64 uint8 bytes from the server
    const bin = atob(b64), u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    return u8;
  }

  tileImage(u8, k, shape) {  // image k of (n, H, W, C) bytes as a small canvas
    const [c, h, w] = shape, off = document.createElement("canvas");
    off.width = w; off.height = h;
    const ctx = off.getContext("2d"), img = ctx.createImageData(w, h), base = k * h * w * c;
    for (let p = 0; p < h * w; p++) {
      for (let j = 0; j < 3; j++) img.data[4 * p + j] = u8[base + p * c + (c === 1 ? 0 : j)];
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return off;
  }

  tiles(canvas, shape, b64, n, cols, verdict, rowLabels, opts) {  // a grid of images, framed by D's verdict
    const h = shape[1], scale = Math.max(1, Math.floor(56 / h)), px = h * scale, cell = px + 8;
    const left = rowLabels ? 64 : 0, rows = Math.ceil(n / cols);
    const width = left + cols * cell, height = rows * cell + ((opts && opts.top) || 0);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    const ctx = canvas.getContext("2d"), u8 = this.decode(b64), top = (opts && opts.top) || 0;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.imageSmoothingEnabled = false;
    for (let k = 0; k < n; k++) {
      const x = left + (k % cols) * cell, y = top + Math.floor(k / cols) * cell;
      if (verdict && verdict[k] !== null && verdict[k] !== undefined) {
        ctx.fillStyle = verdict[k] >= 0.5 ? COLORS.blue : COLORS.red;
        ctx.fillRect(x, y, px + 6, px + 6);
      }
      ctx.drawImage(this.tileImage(u8, k, shape), x + 3, y + 3, px, px);
    }
    if (rowLabels) {
      ctx.fillStyle = "#333";
      ctx.font = "11px sans-serif";
      rowLabels.forEach((name, r) => ctx.fillText(String(name).slice(0, 11), 2, top + r * cell + cell / 2 + 4));
    }
  }

  dHistogram(hist) {  // D's outputs on a real and a fake batch, 0 (fake) .. 1 (real)
    const c = this.q('[data-role="d-hist"]'), ctx = c.getContext("2d"), w = c.width, h = c.height;
    const L = 30, R = 8, T = 16, B = 18;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#333";
    ctx.font = "11px sans-serif";
    if (!hist) { ctx.fillText("D's outputs on real and fake images: after the first quality check", 4, 12); return; }
    const pct = (v) => (v === null || v === undefined ? "–" : Math.round(100 * v) + "%");
    ctx.fillText(`D's outputs (step ${hist.step}): real mean ${pct(hist.mean_real)}, fake mean ${pct(hist.mean_fake)}`, 4, 12);
    const k = hist.bins, top = Math.max(1, ...hist.real, ...hist.fake), bw = (w - L - R) / k;
    const bars = (counts, color, off) => {
      ctx.fillStyle = color;
      counts.forEach((v, i) => {
        const bh = (v / top) * (h - T - B);
        ctx.fillRect(L + i * bw + off, h - B - bh, bw / 2 - 1, bh);
      });
    };
    bars(hist.real, COLORS.real, 0);
    bars(hist.fake, COLORS.fake, bw / 2);
    ctx.strokeStyle = "#999";
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(L + (w - L - R) / 2, T); ctx.lineTo(L + (w - L - R) / 2, h - B); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#555";
    ctx.fillText("0 (fake)", L, h - 4);
    ctx.fillText("0.5", L + (w - L - R) / 2 - 8, h - 4);
    ctx.fillText("1 (real)", w - R - 40, h - 4);
  }

  drawWalk(f) {  // the noise walk: the chosen stop large, the whole loop small beside it
    const im = f.images;
    if (!im) return;
    const wk = im.walk, [c, h, w] = im.shape, cv = this.q('[data-role="walk-view"]'), ctx = cv.getContext("2d");
    const slider = this.q('[data-role="walk"]');
    slider.max = String(wk.n - 1);
    const at = Math.min(this.walkAt, wk.n - 1), u8 = this.decode(wk.data);
    const big = cv.height - 8, small = Math.min(Math.floor((cv.width - big - 16) / 12) - 2, 36);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, cv.width, cv.height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.tileImage(u8, at, [c, h, w]), 4, 4, big, big);
    for (let k = 0; k < wk.n; k++) {
      const x = big + 12 + (k % 12) * (small + 2), y = 4 + Math.floor(k / 12) * (small + 2);
      if (k === at) { ctx.fillStyle = "#e08e0b"; ctx.fillRect(x - 2, y - 2, small + 4, small + 4); }
      ctx.drawImage(this.tileImage(u8, k, [c, h, w]), x, y, small, small);
    }
    const label = this.q('[data-role="walk-class-label"]'), sel = this.q('[data-role="walk-class"]');
    label.hidden = !f.settings.conditional;
    if (f.settings.conditional && sel.options.length !== im.classes.length) {
      sel.innerHTML = im.classes.map((name, i) => `<option value="${i}">${name}</option>`).join("");
    }
  }

  classBars(im) {  // G's samples by class (nearest real images), against an even share
    const c = this.q('[data-role="class-bars"]'), ctx = c.getContext("2d"), w = c.width, h = c.height;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#333";
    ctx.font = "11px sans-serif";
    const counts = im.class_counts;
    if (!counts) { ctx.fillText("G's samples by class: after the first quality check", 4, 12); return; }
    const total = counts.reduce((a, b) => a + b, 0);
    ctx.fillText(`G's clear samples by class (${total} of them; dashed: an even share)`, 4, 12);
    const k = counts.length, T = 18, B = 16, bw = w / k, top = Math.max(1, ...counts, (2 * total) / k);
    counts.forEach((v, i) => {
      const bh = (v / top) * (h - T - B);
      ctx.fillStyle = COLORS.fake;
      ctx.fillRect(i * bw + 3, h - B - bh, bw - 6, bh);
      ctx.fillStyle = "#333";
      ctx.fillText(String(im.classes[i]).slice(0, 7), i * bw + 2, h - 3);
    });
    if (total) {
      const y = h - B - (total / k / top) * (h - T - B);
      ctx.strokeStyle = "#999";
      ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  renderImagePhase(f) {  // slow motion on images: the batch's first images, row by row, framed by D
    const s = f.slow, k = f.phase, ps = f.phase_stats || {}, im = f.images, shape = im.shape;
    const canvas = this.q('[data-role="sample-grid"]');
    const rows = [["real", s.real, s.p_real]];
    if (s.fake) rows.push(["fake (G)", s.fake, s.p_fake]);
    if (s.fake_after) rows.push(["after G's update", s.fake_after, s.p_after]);
    const h = shape[1], scale = Math.max(1, Math.floor(56 / h)), cell = h * scale + 8, left = 110;
    canvas.width = left + s.n * cell;
    canvas.height = rows.length * (cell + 4) + 4;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    rows.forEach(([name, data, verdict], r) => {
      const row = document.createElement("canvas");
      this.tiles(row, shape, data, s.n, s.n, verdict);
      ctx.drawImage(row, left, 4 + r * (cell + 4));
      ctx.fillStyle = "#333";
      ctx.font = "12px sans-serif";
      ctx.fillText(name, 4, 4 + r * (cell + 4) + cell / 2 + 4);
    });
    this.q('[data-role="grid-note"]').textContent = "(slow motion: this step's batch)";
    const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
    const lossG = ps.loss_g !== undefined ? ps.loss_g : ps.loss_g_before;
    this.setStatus(`Epoch: ${f.step} – D loss: ${num(ps.loss_d)} – G loss: ${num(lossG)} – ` +
      `D acc: ${ps.d_acc === undefined ? "–" : Math.round(100 * ps.d_acc) + "%"} – State: Slow motion ${k + 1}/6`, "");
  }

  renderPhase(f) {  // slow motion: the batch of this step, as the phase sees it
    const s = f.slow, k = f.phase, ps = f.phase_stats || {};
    if (k >= 2 && this.layers.field && f.field) this.field(f.field);
    if (k <= 1) this.points(s.z, COLORS.noise, 2);
    if (k === 1) {
      const ctx = this.ctx;
      ctx.strokeStyle = "rgba(120,120,120,0.25)";
      ctx.beginPath();
      s.z.forEach((z, i) => { ctx.moveTo(...this.toPx(...z)); ctx.lineTo(...this.toPx(...s.fake[i])); });
      ctx.stroke();
    }
    this.points(s.real, COLORS.real, 3);
    if (k === 5) {
      this.points(s.fake, "rgba(118,42,131,0.3)", 3);
      const ctx = this.ctx;
      ctx.strokeStyle = COLORS.fake;
      ctx.beginPath();
      s.fake.forEach((p, i) => { ctx.moveTo(...this.toPx(...p)); ctx.lineTo(...this.toPx(...s.fake_after[i])); });
      ctx.stroke();
      this.points(s.fake_after, COLORS.fake, 3);
    } else if (s.fake) this.points(s.fake, COLORS.fake, 3);
    if (s.p_real) {  // D's verdict on each point: a blue ring = "real", a red ring = "fake"
      const ring = (pts, pr) => pts.forEach((p, i) => {
        const [x, y] = this.toPx(...p);
        this.ctx.strokeStyle = pr[i] >= 0.5 ? COLORS.blue : COLORS.red;
        this.ctx.beginPath(); this.ctx.arc(x, y, 5, 0, 2 * Math.PI); this.ctx.stroke();
      });
      this.ctx.lineWidth = 1.5;
      ring(s.real, s.p_real);
      ring(s.fake, s.p_fake);
      this.ctx.lineWidth = 1;
    }
    if (s.arrows) this.arrows(s.fake, s.arrows);
    const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
    const lossG = ps.loss_g !== undefined ? ps.loss_g : ps.loss_g_before;
    this.setStatus(`Epoch: ${f.step} – D loss: ${num(ps.loss_d)} – G loss: ${num(lossG)} – ` +
      `D acc: ${ps.d_acc === undefined ? "–" : Math.round(100 * ps.d_acc) + "%"} – State: Slow motion ${k + 1}/6`, "");
  }

  density1d(f) {  // real density, G's density, D(x) over one x axis; G's samples as ticks below
    const c = this.canvas1d, ctx = c.getContext("2d"), w = c.width, h = c.height, d = f.density;
    const L = 36, R = 36, T = 12, B = 40, x0 = d.x[0], x1 = d.x[d.x.length - 1];
    const X = (x) => L + ((x - x0) / (x1 - x0)) * (w - L - R);
    let top = 0;
    for (const v of d.real.concat(d.fake)) if (v !== null && Number.isFinite(v)) top = Math.max(top, v);
    top = top > 0 ? top * 1.1 : 1;
    const Y = (v) => h - B - (v / top) * (h - T - B);  // densities: left axis
    const Yd = (v) => h - B - v * (h - T - B);  // D(x) in [0, 1]: right axis
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = "#ccc";
    ctx.lineWidth = 1;
    ctx.strokeRect(L, T, w - L - R, h - T - B);
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(L, Yd(0.5)); ctx.lineTo(w - R, Yd(0.5)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#555";
    ctx.font = "11px sans-serif";
    ctx.fillText("density", 2, T + 10);
    ctx.fillText("D(x)", w - R + 2, Yd(0.75));
    ctx.fillText("1", w - R + 4, Yd(1) + 10);
    ctx.fillText("0.5", w - R + 4, Yd(0.5) + 4);
    ctx.fillText("0", w - R + 4, Yd(0));
    for (let k = 0; k <= 4; k++) {
      const xv = x0 + (k / 4) * (x1 - x0);
      ctx.fillText(xv.toFixed(1), X(xv) - 8, h - B + 14);
    }
    const curve = (ys, color, width, Yf, fill) => {
      ctx.beginPath();
      let started = false;
      d.x.forEach((xv, i) => {
        const v = ys[i];
        if (v === null || !Number.isFinite(v)) return;
        if (!started) { ctx.moveTo(X(xv), Yf(v)); started = true; } else ctx.lineTo(X(xv), Yf(v));
      });
      if (fill && started) {
        ctx.lineTo(X(x1), Yf(0)); ctx.lineTo(X(x0), Yf(0)); ctx.closePath();
        ctx.fillStyle = fill; ctx.fill();
      } else {
        ctx.strokeStyle = color; ctx.lineWidth = width; ctx.stroke();
      }
    };
    curve(d.fake, COLORS.fake, 0, Y, "rgba(118,42,131,0.25)");
    curve(d.fake, COLORS.fake, 2, Y);
    curve(d.real, COLORS.real, 2.5, Y);
    ctx.setLineDash([6, 4]);
    curve(d.d, "#4393c3", 2, Yd);
    ctx.setLineDash([]);
    // G's shown samples as ticks under the axis, the data's as ticks above them
    ctx.lineWidth = 1;
    const ticks = (pts, color, y) => {
      ctx.strokeStyle = color;
      ctx.beginPath();
      for (const p of pts) {
        if (p[0] === null || p[0] < x0 || p[0] > x1) continue;
        ctx.moveTo(X(p[0]), y); ctx.lineTo(X(p[0]), y + 6);
      }
      ctx.stroke();
    };
    ticks(f.real, "rgba(27,120,55,0.5)", h - B + 18);
    ticks(f.fake, "rgba(118,42,131,0.5)", h - B + 27);
  }

  field(fd) {
    const n = fd.n, v = fd.values, w = this.canvas.width, h = this.canvas.height;
    const img = this.ctx.createImageData(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const p = v[i * n + j];  // row i = y index (bottom to top), column j = x index
        const k = ((n - 1 - i) * n + j) * 4;
        const t = Math.abs(p - 0.5) * 2;  // 0 at the line, 1 when D is sure
        const [r, g, b] = p >= 0.5 ? [67, 147, 195] : [214, 96, 77];
        img.data[k] = 255 + (r - 255) * t;
        img.data[k + 1] = 255 + (g - 255) * t;
        img.data[k + 2] = 255 + (b - 255) * t;
        img.data[k + 3] = 200;
      }
    }
    const off = document.createElement("canvas");
    off.width = n; off.height = n;
    off.getContext("2d").putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(off, 0, 0, w, h);
    this.contour(fd);
  }

  contour(fd) {  // white line where D = 0.5: marching squares, linear interpolation on cell edges
    const n = fd.n, v = fd.values, ctx = this.ctx;
    const [x0, x1, y0, y1] = this.bounds();
    const X = (j) => x0 + (j / (n - 1)) * (x1 - x0), Y = (i) => y0 + (i / (n - 1)) * (y1 - y0);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let i = 0; i < n - 1; i++) {
      for (let j = 0; j < n - 1; j++) {
        const c = [[i, j], [i, j + 1], [i + 1, j + 1], [i + 1, j]];
        const pts = [];
        for (let e = 0; e < 4; e++) {
          const [ai, aj] = c[e], [bi, bj] = c[(e + 1) % 4];
          const a = v[ai * n + aj] - 0.5, b = v[bi * n + bj] - 0.5;
          if ((a < 0) !== (b < 0)) {
            const t = a / (a - b);
            pts.push(this.toPx(X(aj + t * (bj - aj)), Y(ai + t * (bi - ai))));
          }
        }
        if (pts.length >= 2) { ctx.moveTo(...pts[0]); ctx.lineTo(...pts[1]); }
        if (pts.length === 4) { ctx.moveTo(...pts[2]); ctx.lineTo(...pts[3]); }
      }
    }
    ctx.stroke();
  }

  points(pts, color, r) {
    const ctx = this.ctx;
    ctx.fillStyle = color;
    for (const [x, y] of pts) {
      const [px, py] = this.toPx(x, y);
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  manifold(m) {
    const ctx = this.ctx, k = m.k, p = m.points;
    ctx.strokeStyle = COLORS.manifold;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        const here = this.toPx(...p[a * k + b]);
        if (b + 1 < k) { ctx.moveTo(...here); ctx.lineTo(...this.toPx(...p[a * k + b + 1])); }
        if (a + 1 < k) { ctx.moveTo(...here); ctx.lineTo(...this.toPx(...p[(a + 1) * k + b])); }
      }
    }
    ctx.stroke();
  }

  arrows(pts, vecs) {
    const ctx = this.ctx;
    ctx.strokeStyle = COLORS.arrow;
    ctx.lineWidth = 1;
    ctx.beginPath();
    pts.forEach(([x, y], i) => {
      const [dx, dy] = vecs[i];
      const [px, py] = this.toPx(x, y), [qx, qy] = this.toPx(x + dx, y + dy);
      ctx.moveTo(px, py); ctx.lineTo(qx, qy);
      const ang = Math.atan2(qy - py, qx - px);
      ctx.lineTo(qx - 4 * Math.cos(ang - 0.5), qy - 4 * Math.sin(ang - 0.5));
      ctx.moveTo(qx, qy);
      ctx.lineTo(qx - 4 * Math.cos(ang + 0.5), qy - 4 * Math.sin(ang + 0.5));
    });
    ctx.stroke();
  }

  charts() {
    const hist = this.history;
    this.chart('[data-role="chart-loss"]', "Loss", [["loss_d", "#d6604d", "D loss"], ["loss_g", "#4393c3", "G loss"]]);
    this.chart('[data-role="chart-acc"]', "D accuracy", [["d_acc", "#333", "D acc"]], [0, 1], 0.5);
    const modes = hist.length && hist[hist.length - 1].modes_total;
    if (modes) {
      this.chart('[data-role="chart-modes"]', `Modes captured (of ${modes}) / reverse KL`,
        [["modes", "#1b7837", "modes"], ["reverse_kl", "#762a83", "KL"]]);
    } else {
      this.chart('[data-role="chart-modes"]', "Distance to data (sliced W1)", [["distance", "#1b7837", "distance"]]);
    }
  }

  chart(sel, title, series, range, ref) {
    const c = this.q(sel), ctx = c.getContext("2d"), w = c.width, h = c.height, hist = this.history;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#333";
    ctx.font = "11px sans-serif";
    ctx.fillText(title, 4, 12);
    if (hist.length < 2) return;
    let lo = Infinity, hi = -Infinity;
    for (const [key] of series) for (const p of hist) {
      const v = p[key];
      if (v !== null && v !== undefined && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (range) [lo, hi] = range;
    if (!Number.isFinite(lo)) return;
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    const s0 = hist[0].step, s1 = hist[hist.length - 1].step || 1;
    const X = (s) => 30 + ((s - s0) / Math.max(s1 - s0, 1)) * (w - 36);
    const Y = (v) => h - 14 - ((v - lo) / (hi - lo)) * (h - 30);
    ctx.strokeStyle = "#ddd";
    ctx.strokeRect(30, 16, w - 36, h - 30);
    const fmt = (v) => (v !== 0 && Math.abs(v) < 1e-2 ? v.toExponential(0) : String(Number(v.toPrecision(3))));
    ctx.fillText(fmt(hi), 0, 24);
    ctx.fillText(fmt(lo), 0, h - 14);
    if (ref !== undefined) {
      ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(30, Y(ref)); ctx.lineTo(w - 6, Y(ref)); ctx.stroke();
      ctx.setLineDash([]);
    }
    series.forEach(([key, color, label], k) => {
      ctx.strokeStyle = color;
      ctx.beginPath();
      let started = false;
      for (const p of hist) {
        const v = p[key];
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        if (!started) { ctx.moveTo(X(p.step), Y(v)); started = true; } else ctx.lineTo(X(p.step), Y(v));
      }
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.fillText(label, w - 60 - 50 * k, 12);
    });
  }
}

const views = [new LabView(document.querySelector('[data-view="a"]'))];
window.ganforgeLab = views;

document.getElementById("compare").addEventListener("change", (e) => {
  if (e.target.checked && views.length === 1) {
    const clone = views[0].root.cloneNode(true);
    clone.dataset.view = "b";
    for (const el of clone.querySelectorAll("[data-testid]")) el.dataset.testid = "b-" + el.dataset.testid;
    for (const el of clone.querySelectorAll("[id]")) el.id = "b-" + el.id;
    for (const el of clone.querySelectorAll("[aria-describedby]")) {
      el.setAttribute("aria-describedby", "b-" + el.getAttribute("aria-describedby"));
    }
    document.getElementById("views").appendChild(clone);
    const b = new LabView(clone);
    views.push(b);
    // keep the data the same: the second run follows the first one's data set and points
    views[0].onFrame = (f) => {
      if (b.frame && b.frame.settings.dataset !== f.settings.dataset && f.settings.dataset !== "draw" &&
          f.settings.dataset !== "csv") {
        const values = { dataset: f.settings.dataset };
        if (b.isImages(f.settings.dataset) !== b.isImages(b.frame.settings.dataset)) values.speed = f.speed;
        b.send({ type: "settings", values });
      }
    };
  } else if (!e.target.checked && views.length === 2) {
    const b = views.pop();
    b.ws.close();
    b.root.remove();
    views[0].onFrame = null;
  }
});

// the teaching panel stays open or closed across reloads
const explain = document.querySelector('[data-testid="explain"]');
try {
  if (localStorage.getItem("ganforge-lab-explain") === "closed") explain.open = false;
} catch (e) { /* storage may be off: the panel just starts open */ }
explain.addEventListener("toggle", () => {
  try { localStorage.setItem("ganforge-lab-explain", explain.open ? "open" : "closed"); } catch (e) { /* off */ }
});
