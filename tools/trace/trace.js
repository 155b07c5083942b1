// trace.js: the step-through view of a virtqueue recording (the page
// tools/trace/vtrace.py writes; this file is copied into it). It only
// shows: ring.py computed every state, and each step here applies that
// step's changes (its "diff": key -> [before, after]) forwards or
// backwards. A split queue (virtio 1.2 2.7) shows its descriptor table and
// its two rings; a packed one (2.8) its one descriptor ring, each entry
// with its flags and who owns it, the positions with their wrap counters,
// the two event suppression structures and the buffer ids out. Keys:
// ArrowRight / n next step, ArrowLeft / p previous, Home / End first and
// last, 1..9 pick a queue.
//
// See it run: `make trace CMD='cat README.md'`, then open
// build/trace/index.html; tests/qemu/test_trace.py drives it in Chromium.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var DESC_NEXT = 1, DESC_WRITE = 2, DESC_INDIRECT = 4, DESC_AVAIL = 1 << 7, DESC_USED = 1 << 15;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function hex(v) { return "0x" + Number(v).toString(16); }

  function flagNames(f) {
    var n = [];
    if (f & DESC_NEXT) n.push("NEXT");
    if (f & DESC_WRITE) n.push("WRITE");
    if (f & DESC_INDIRECT) n.push("INDIRECT");
    return n.join("|") || "0";
  }

  function mod(a, n) { return ((a % n) + n) % n; }

  // A packed entry's flags: the names, then the two bits read against the lap.
  function pflagNames(f) {
    var n = flagNames(f), bits = "AVAIL=" + (f & DESC_AVAIL ? 1 : 0) + " USED=" + (f & DESC_USED ? 1 : 0);
    return n === "0" ? bits : n + " " + bits;
  }

  // A packed position, [slot, wrap counter, times it passed the end].
  function posText(p) {
    if (!p) return "?";
    return p[0] + " (wrap " + p[1] + (p[2] ? ", passed the end " + p[2] + "\u00d7" : "") + ")";
  }

  // What a packed entry is (ring.py's own<s>): its name, whose it is, why.
  var OWN = {
    free: ["free", "driver", "left from the lap before: the driver fills it next"],
    held: ["held back", "driver", "filled; its flags wait for the kick, so the device cannot see it yet"],
    unpub: ["not yet published", "driver", "filled after the held-back entry, past which the device does not read"],
    avail: ["available", "device", "AVAIL = the lap's wrap counter, USED not (2.8.1): the device's until it marks it used"],
    used: ["used", "driver", "AVAIL = USED = the lap's wrap counter: the driver's to read"],
    stale: ["another lap's bits", "?", "in flight, but its bits fit no lap: a device error"]
  };

  var EVENT_FLAGS = ["ENABLE", "DISABLE", "DESC", "reserved (3)"];

  // What a step is on the timeline: its lane and whether it is a
  // notification or interrupt that was sent (solid) or held back (hollow).
  function lane(step) {
    var k = step.kind;
    if (k === "KICK" || k === "QEMU_NOTIFY" || k === "DNOTIFY") return { lane: "notify", solid: !step.held };
    if (k === "INTR" || k === "QEMU_IRQ" || k === "DIRQ") return { lane: "irq", solid: !step.held };
    if (step.side === "driver") return { lane: "driver", solid: true };
    return { lane: "device", solid: true };
  }
  var LANES = ["driver", "notify", "device", "irq"];
  var LANE_NAMES = { driver: "driver", notify: "notifications", device: "device", irq: "interrupts" };

  function QueueView(q, root) {
    this.q = q;
    this.k = 0;                    // steps applied so far: 0 .. q.steps.length
    this.state = JSON.parse(JSON.stringify(q.initial));
    this.root = root;
    this.build();
    this.render();
  }

  QueueView.prototype.build = function () {
    var q = this.q, self = this, r = this.root;
    var head = el("div", "q-head");
    head.appendChild(el("h2", null, q.name));
    var facts = [q.packed ? "packed ring (2.8)" : "split ring (2.7)", q.size + " entries",
                 "queue " + q.index, "device at " + q.base,
                 q.event_idx ? "EVENT_IDX" : "no EVENT_IDX",
                 q.indirect ? "indirect tables (" + q.tables[0] + " of " + q.tables[1] + ")" : "no indirect tables"];
    head.appendChild(el("p", "q-facts", facts.join(" \u00b7 ")));
    var src = "driver: this kernel's " + (q.packed ? "virtq_packed.c" : "virtq.c");
    if (q.device_model) src += "; device: the device model (devmodel/vdm.c)";
    if (q.qemu.used) src += "; device: QEMU's own trace events (marked QEMU): " + q.qemu.note;
    else if (q.qemu.note) src += "; " + q.qemu.note;
    head.appendChild(el("p", "q-source", src));
    r.appendChild(head);

    var ctl = el("div", "q-controls");
    function button(cls, label, title, fn) {
      var b = el("button", cls, label);
      b.title = title;
      b.addEventListener("click", fn);
      ctl.appendChild(b);
      return b;
    }
    button("q-first", "first", "the state when recording began (Home)", function () { self.go(0); });
    button("q-prev", "\u25c0 previous", "previous step (\u2190)", function () { self.go(self.k - 1); });
    this.stepLabel = el("span", "q-step");
    this.stepLabel.setAttribute("data-steps", q.steps.length);
    ctl.appendChild(this.stepLabel);
    button("q-next", "next \u25b6", "next step (\u2192)", function () { self.go(self.k + 1); });
    button("q-last", "last", "after the last step (End)", function () { self.go(q.steps.length); });
    r.appendChild(ctl);
    this.text = el("p", "q-text");
    r.appendChild(this.text);

    this.timeline = el("div", "q-timeline");
    r.appendChild(this.timeline);
    this.buildTimeline();

    var rings = el("div", "q-rings" + (q.packed ? " packed" : ""));
    if (q.packed) {
      this.ringBox = el("section", "q-ring");
      this.eventBox = el("section", "q-events");
      rings.appendChild(this.ringBox);
      rings.appendChild(this.eventBox);
    } else {
      this.descBox = el("section", "q-desc");
      this.availBox = el("section", "q-avail");
      this.usedBox = el("section", "q-used");
      rings.appendChild(this.descBox);
      rings.appendChild(this.availBox);
      rings.appendChild(this.usedBox);
    }
    r.appendChild(rings);
    this.sideBox = el("section", "q-side");
    r.appendChild(this.sideBox);
    if (q.warnings.length) {
      var w = el("div", "q-warnings");
      w.appendChild(el("h3", null, "The replay found these inconsistencies"));
      q.warnings.forEach(function (t) { w.appendChild(el("p", null, t)); });
      r.appendChild(w);
    }
  };

  QueueView.prototype.buildTimeline = function () {
    var q = this.q, self = this, n = q.steps.length;
    var NS = "http://www.w3.org/2000/svg";
    var W = 1000, rowH = 18, left = 100, H = rowH * LANES.length + 16;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("class", "timeline");
    LANES.forEach(function (l, i) {
      var t = document.createElementNS(NS, "text");
      t.setAttribute("x", 4);
      t.setAttribute("y", 12 + i * rowH + 10);
      t.textContent = LANE_NAMES[l];
      svg.appendChild(t);
      var line = document.createElementNS(NS, "line");
      line.setAttribute("x1", left); line.setAttribute("x2", W - 4);
      line.setAttribute("y1", 12 + i * rowH + 6); line.setAttribute("y2", 12 + i * rowH + 6);
      line.setAttribute("class", "lane");
      svg.appendChild(line);
    });
    function x(k) { return left + (W - left - 10) * (n > 1 ? k / (n - 1) : 0.5); }
    q.steps.forEach(function (s, k) {
      var L = lane(s), i = LANES.indexOf(L.lane);
      var m = document.createElementNS(NS, "circle");
      m.setAttribute("cx", x(k));
      m.setAttribute("cy", 12 + i * rowH + 6);
      m.setAttribute("r", 4);
      m.setAttribute("class", "mark " + (L.solid ? "solid" : "hollow") + " side-" + s.side);
      m.setAttribute("data-k", k);
      var title = document.createElementNS(NS, "title");
      title.textContent = (k + 1) + ": " + s.text;
      m.appendChild(title);
      m.addEventListener("click", function () { self.go(k + 1); });
      svg.appendChild(m);
    });
    this.cursor = document.createElementNS(NS, "line");
    this.cursor.setAttribute("y1", 4); this.cursor.setAttribute("y2", H - 2);
    this.cursor.setAttribute("class", "cursor");
    svg.appendChild(this.cursor);
    this.cursorX = x;
    this.timeline.appendChild(svg);
    var legend = el("p", "legend", "one mark per step, in order; solid: sent, hollow: held back " +
                    "(notification or interrupt suppressed); blue: driver, green: device model, " +
                    "orange: QEMU. Click a mark to go there.");
    this.timeline.appendChild(legend);
  };

  QueueView.prototype.go = function (k) {
    var steps = this.q.steps;
    if (k < 0) k = 0;
    if (k > steps.length) k = steps.length;
    while (this.k < k) { this.apply(steps[this.k].diff, 1); this.k++; }
    while (this.k > k) { this.k--; this.apply(steps[this.k].diff, 0); }
    this.render();
  };

  QueueView.prototype.apply = function (diff, forward) {
    var st = this.state;
    Object.keys(diff).forEach(function (key) {
      var v = diff[key][forward ? 1 : 0];
      if (v === null || v === undefined) delete st[key];
      else st[key] = v;
    });
  };

  // The keys the step just shown changed: highlighted.
  QueueView.prototype.changed = function () {
    return this.k > 0 ? this.q.steps[this.k - 1].diff : {};
  };

  QueueView.prototype.render = function () {
    var q = this.q, k = this.k, n = q.steps.length;
    this.stepLabel.textContent = "step " + k + " of " + n;
    var s = k > 0 ? q.steps[k - 1] : null;
    this.text.innerHTML = "";
    if (s) {
      var badge = el("span", "badge side-" + s.side, s.side === "qemu" ? "QEMU" :
                     s.side === "device" ? "device model" : "driver");
      this.text.appendChild(badge);
      this.text.appendChild(document.createTextNode(" " + s.text));
      if (s.t !== null && s.t !== undefined)
        this.text.appendChild(el("span", "when", " (" + (s.t / 1000).toFixed(3) + " ms)"));
    } else {
      this.text.textContent = "The state when recording began. Step through with \u2192 / \u2190.";
    }
    this.cursor.setAttribute("x1", this.cursorX(Math.max(k - 1, 0)));
    this.cursor.setAttribute("x2", this.cursorX(Math.max(k - 1, 0)));
    this.cursor.style.display = k > 0 ? "" : "none";
    if (q.packed) {
      this.renderRing();
      this.renderEvents();
    } else {
      this.renderDesc();
      this.renderAvail();
      this.renderUsed();
    }
    this.renderSide();
  };

  function field(box, name, value, key, changed, cls) {
    var d = el("div", "field" + (key && changed[key] ? " changed" : "") + (cls ? " " + cls : ""));
    d.appendChild(el("span", "name", name));
    d.appendChild(el("span", "value", value === undefined ? "?" : String(value)));
    if (key) d.setAttribute("data-key", key);
    box.appendChild(d);
    return d;
  }

  QueueView.prototype.renderDesc = function () {
    var q = this.q, st = this.state, ch = this.changed(), box = this.descBox, i;
    box.innerHTML = "";
    box.appendChild(el("h3", null, "descriptor table (2.7.5)"));
    // The map: every descriptor as a square, coloured by who has it.
    var map = el("div", "desc-map");
    for (i = 0; i < q.size; i++) {
      var o = st["o" + i];
      var c = el("span", "cell" + (o === -1 ? " free" : o === undefined ? " unknown" : " used") +
                 (ch["d" + i] || ch["o" + i] ? " changed" : ""), "");
      c.title = "descriptor " + i + (o === -1 ? ": free" : o === undefined ? ": not seen" : ": chain " + o);
      c.setAttribute("data-i", i);
      map.appendChild(c);
    }
    box.appendChild(map);
    // The descriptors in chains, chain by chain, in chain order.
    var table = el("table", "desc-table");
    var hdr = el("tr");
    ["#", "addr", "len", "flags", "next", "chain"].forEach(function (h) { hdr.appendChild(el("th", null, h)); });
    table.appendChild(hdr);
    var rows = [];
    for (i = 0; i < q.size; i++)
      if ((st["o" + i] !== undefined && st["o" + i] !== -1) || ch["d" + i] || ch["o" + i]) rows.push(i);
    rows.forEach(function (i) {
      var d = st["d" + i], tr = el("tr", (ch["d" + i] || ch["o" + i]) ? "changed" : "");
      tr.setAttribute("data-i", i);
      var o = st["o" + i];
      [i, d ? hex(d[0]) : "?", d ? d[1] : "?", d ? flagNames(d[2]) : "?",
       d ? (d[2] & DESC_NEXT ? d[3] : "-") : "?", o === -1 ? "free" : o].forEach(function (v) {
        tr.appendChild(el("td", null, String(v)));
      });
      table.appendChild(tr);
      var t = o !== undefined && o !== -1 && o === i ? st["t" + i] : null;
      if (t && d && (d[2] & DESC_INDIRECT)) {
        t.forEach(function (e, j) {
          var sub = el("tr", "indirect" + (ch["t" + i] ? " changed" : ""));
          ["  table[" + j + "]", hex(e[0]), e[1], flagNames(e[2]), e[2] & DESC_NEXT ? e[3] : "-", ""].forEach(function (v) {
            sub.appendChild(el("td", null, String(v)));
          });
          table.appendChild(sub);
        });
      }
    });
    if (!rows.length) {
      var none = el("tr");
      var td = el("td", "empty", "every descriptor is free");
      td.colSpan = 6;
      none.appendChild(td);
      table.appendChild(none);
    }
    box.appendChild(table);
  };

  // A ring as a grid of slots, with the positions that move around it.
  QueueView.prototype.ringGrid = function (prefix, cellText, marks, spans) {
    var q = this.q, st = this.state, ch = this.changed();
    var grid = el("div", "ring-grid");
    for (var s = 0; s < q.size; s++) {
      var v = st[prefix + s];
      var cls = "slot";
      spans.forEach(function (sp) { if (sp.has(s)) cls += " " + sp.cls; });
      if (ch[prefix + s]) cls += " changed";
      var c = el("span", cls, v === undefined ? "" : cellText(v, s));
      c.setAttribute("data-s", s);
      var tip = "slot " + s + (v === undefined ? "" : ": " + cellText(v, s, true));
      marks.forEach(function (m) {
        var at = Array.isArray(m.pos) ? m.pos[0] : m.pos;
        if (at !== undefined && mod(at, q.size) === s) {
          c.classList.add("mark-" + m.cls);
          c.appendChild(el("i", "pos pos-" + m.cls, m.label));
          tip += " \u2190 " + m.title;
        }
      });
      c.title = tip;
      grid.appendChild(c);
    }
    return grid;
  };

  // The slots from a to b (ring positions, mod 2^16), as a set of slot numbers.
  QueueView.prototype.span = function (a, b, cls) {
    var set = {}, n = this.q.size;
    if (a === undefined || b === undefined) return { has: function () { return false; }, cls: cls };
    var count = mod(b - a, 65536);
    if (count > n) count = n;
    for (var i = 0; i < count; i++) set[mod(a + i, n)] = true;
    return { has: function (s) { return !!set[s]; }, cls: cls };
  };

  QueueView.prototype.renderAvail = function () {
    var st = this.state, ch = this.changed(), box = this.availBox;
    box.innerHTML = "";
    box.appendChild(el("h3", null, "available ring (2.7.6): driver \u2192 device"));
    var f = el("div", "fields");
    field(f, "flags", st["avail.flags"] ? st["avail.flags"] + " (NO_INTERRUPT)" : st["avail.flags"], "avail.flags", ch);
    field(f, "idx", st["avail.idx"], "avail.idx", ch, "avail-idx");
    field(f, "used_event", st["used_event"], "used_event", ch);
    field(f, "driver's next entry", st["drv.avail_idx"], "drv.avail_idx", ch);
    field(f, "device's next entry", st["dev.last_avail"], "dev.last_avail", ch, "dev-last-avail");
    box.appendChild(f);
    var marks = [
      { pos: st["drv.avail_idx"], cls: "drv", label: "D", title: "the driver's next entry" },
      { pos: st["avail.idx"], cls: "idx", label: "idx", title: "avail.idx: published up to here" },
      { pos: st["dev.last_avail"], cls: "dev", label: "dev", title: "the device's next entry" },
    ];
    var spans = [this.span(st["avail.idx"], st["drv.avail_idx"], "unpublished"),
                 this.span(st["dev.last_avail"], st["avail.idx"], "waiting")];
    box.appendChild(this.ringGrid("a", function (v) { return String(v); }, marks, spans));
    box.appendChild(el("p", "legend", "yellow: written, not yet published; green: published, not yet taken by the device"));
  };

  QueueView.prototype.renderUsed = function () {
    var st = this.state, ch = this.changed(), box = this.usedBox;
    box.innerHTML = "";
    box.appendChild(el("h3", null, "used ring (2.7.8): device \u2192 driver"));
    var f = el("div", "fields");
    field(f, "flags", st["used.flags"] ? st["used.flags"] + " (NO_NOTIFY)" : st["used.flags"], "used.flags", ch);
    field(f, "idx", st["used.idx"], "used.idx", ch, "used-idx");
    field(f, "avail_event", st["avail_event"], "avail_event", ch);
    field(f, "driver's next entry", st["drv.last_used"], "drv.last_used", ch, "last-used");
    field(f, "device's next entry", st["dev.used_idx"], "dev.used_idx", ch);
    box.appendChild(f);
    var marks = [
      { pos: st["used.idx"], cls: "idx", label: "idx", title: "used.idx: published up to here" },
      { pos: st["drv.last_used"], cls: "drv", label: "D", title: "the driver's next entry" },
      { pos: st["dev.used_idx"], cls: "dev", label: "dev", title: "the device's next entry" },
    ];
    var spans = [this.span(st["drv.last_used"], st["used.idx"], "waiting")];
    box.appendChild(this.ringGrid("u", function (v) { return v[0] + ":" + v[1]; }, marks, spans));
    box.appendChild(el("p", "legend", "each entry id:len; green: written by the device, not yet reaped by the driver"));
  };

  // ---- a packed queue (2.8) ----

  QueueView.prototype.renderRing = function () {
    var q = this.q, st = this.state, ch = this.changed(), box = this.ringBox;
    box.innerHTML = "";
    box.appendChild(el("h3", null, "descriptor ring (2.8.13): one ring, both sides write it"));
    var f = el("div", "fields");
    field(f, "driver: next to fill", posText(st["drv.next_avail"]), "drv.next_avail", ch, "next-avail");
    field(f, "published up to", posText(st["drv.pub"]), "drv.pub", ch, "published");
    field(f, "next used to read", posText(st["drv.next_used"]), "drv.next_used", ch, "next-used");
    field(f, "in flight", st["drv.inflight"], "drv.inflight", ch);
    field(f, "filled since the kick", st["drv.unpub"], "drv.unpub", ch);
    if (st["drv.held_flags"] !== undefined)
      field(f, "flags the kick stores", pflagNames(st["drv.held_flags"]), "drv.held_flags", ch, "held-flags");
    field(f, "device: next to read", posText(st["dev.next_avail"]), "dev.next_avail", ch, "dev-next-avail");
    field(f, "next to mark used", posText(st["dev.next_used"]), "dev.next_used", ch, "dev-next-used");
    box.appendChild(f);
    var marks = [
      { pos: st["drv.next_avail"], cls: "drv", label: "D", title: "the driver's next entry to fill" },
      { pos: st["drv.pub"], cls: "idx", label: "pub", title: "published up to here" },
      { pos: st["drv.next_used"], cls: "rd", label: "R", title: "the driver's next used entry to read" },
      { pos: st["dev.next_avail"], cls: "dev", label: "dev", title: "the device's next entry to read" },
      { pos: st["dev.next_used"], cls: "devu", label: "U", title: "where the device writes its next used entry" }
    ];
    var spans = Object.keys(OWN).map(function (k) {
      return { has: function (s) { return st["own" + s] === k; }, cls: "own-" + k };
    });
    box.appendChild(this.ringGrid("r", function (v, s, tip) {
      var own = st["own" + s];
      if (tip) return "id " + v[3] + ", " + pflagNames(v[2]) + ": " + OWN[own][0] + " (" + OWN[own][1] + "'s)";
      return own === "free" ? "" : String(v[3]);
    }, marks, spans));
    box.appendChild(el("p", "legend", "each entry shows the buffer id in it; yellow: filled, not yet " +
                       "published (darker: its flags held back until the kick); green: available, the " +
                       "device's; blue: used, the driver's to read; grey: free. Marks: D the driver fills " +
                       "next, pub published up to, R the driver reads next, dev the device reads next, U the " +
                       "device marks used next"));
    // The entries that hold something, in ring order, with their tables.
    var table = el("table", "ring-table");
    var hdr = el("tr");
    ["slot", "addr", "len", "id", "flags", "AVAIL", "USED", "what it is"].forEach(function (h) { hdr.appendChild(el("th", null, h)); });
    table.appendChild(hdr);
    var rows = 0;
    for (var s = 0; s < q.size; s++) {
      var own = st["own" + s], e = st["r" + s];
      if (!e || (own === "free" && !ch["r" + s] && !ch["own" + s])) continue;
      var tr = el("tr", (ch["r" + s] || ch["own" + s]) ? "changed" : "");
      tr.setAttribute("data-i", s);
      tr.setAttribute("data-id", e[3]);
      tr.title = OWN[own][2];
      [s, hex(e[0]), e[1], e[3], flagNames(e[2]), e[2] & DESC_AVAIL ? 1 : 0, e[2] & DESC_USED ? 1 : 0,
       OWN[own][0] + " (" + OWN[own][1] + "'s)"].forEach(function (v) {
        tr.appendChild(el("td", null, String(v)));
      });
      table.appendChild(tr);
      rows++;
      // A held-back entry's INDIRECT is in the flags the kick will store.
      var flags = own === "held" && st["drv.held_flags"] !== undefined ? st["drv.held_flags"] : e[2];
      var t = st["t" + e[3]];
      if (t && (flags & DESC_INDIRECT) && own !== "free" && own !== "used") {
        t.forEach(function (te, j) {
          var sub = el("tr", "indirect" + (ch["t" + e[3]] ? " changed" : ""));
          ["  table[" + j + "]", hex(te[0]), te[1], "", flagNames(te[2]), "", "", ""].forEach(function (v) {
            sub.appendChild(el("td", null, String(v)));
          });
          table.appendChild(sub);
        });
      }
    }
    if (!rows) {
      var none = el("tr");
      var td = el("td", "empty", "every entry is free");
      td.colSpan = 8;
      none.appendChild(td);
      table.appendChild(none);
    }
    box.appendChild(table);
  };

  QueueView.prototype.renderEvents = function () {
    var st = this.state, ch = this.changed(), box = this.eventBox;
    box.innerHTML = "";
    box.appendChild(el("h3", null, "event suppression structures (2.8.10, 2.8.14)"));
    [["driver_event", "the driver's (Driver Area): the driver writes it, the device reads it before it interrupts"],
     ["device_event", "the device's (Device Area): the device writes it, the driver reads it before it notifies"]].forEach(function (p) {
      var ev = st[p[0]] || [0, 0, 0], d = el("div", "event " + p[0].replace("_", "-"));
      d.appendChild(el("p", "what", p[1]));
      var f = el("div", "fields");
      field(f, "flags", EVENT_FLAGS[ev[2]], p[0], ch, "event-flags");
      field(f, "desc_event_off", ev[2] === 2 ? ev[0] : "-", p[0], ch);
      field(f, "desc_event_wrap", ev[2] === 2 ? ev[1] : "-", p[0], ch);
      d.appendChild(f);
      box.appendChild(d);
    });
    box.appendChild(el("p", "legend", "ENABLE: tell me every time; DISABLE: do not; DESC (with EVENT_IDX): " +
                       "tell me once the entry at desc_event_off, in the lap whose wrap counter is " +
                       "desc_event_wrap, is made available (the device's structure) or used (the driver's)"));
  };

  // The counters: key, then the words for a split and a packed queue.
  var COUNTS = [
    ["added", "chains added", "buffers made available"],
    ["kicks", "kicks (avail.idx published)", "kicks (entries published)"],
    ["notified", "notifications sent"], ["suppressed", "notifications suppressed"],
    ["interrupts", "interrupts taken"],
    ["completions", "used elements reaped", "used entries read"],
    ["bad", "used elements refused", "used entries refused"],
    ["wraps", "", "wrap counters flipped"],
    ["dev_notifies", "notifications the device saw"],
    ["dev_pops", "chains the device took", "buffers the device took"],
    ["dev_used", "used elements the device wrote", "used entries the device wrote"],
    ["dev_irqs", "interrupts the device sent"],
    ["dev_irqs_suppressed", "interrupts the device held back"]
  ];

  QueueView.prototype.renderSide = function () {
    var q = this.q, st = this.state, ch = this.changed(), box = this.sideBox;
    box.innerHTML = "";
    var free = el("div", "free-list");
    free.appendChild(el("h3", null, q.packed ? "free buffer ids (the driver's own, the next buffer takes the first)" :
                        "free list (the driver's own, never shown to the device)"));
    var fl = st.free || [];
    var shown = fl.slice(0, 24).join(" \u2192 ") + (fl.length > 24 ? " \u2192 \u2026 (" + (fl.length - 24) + " more)" : "");
    var p = el("p", ch.free ? "changed" : "", fl.length + " free: " + (shown || "none"));
    p.setAttribute("data-key", "free");
    free.appendChild(p);
    box.appendChild(free);

    var out = el("div", "outstanding");
    out.appendChild(el("h3", null, q.packed ? "buffers out, by id (outstanding tokens)" :
                       "chains the driver has handed out (outstanding tokens)"));
    var list = st.out || [];
    if (!list.length) out.appendChild(el("p", null, "none"));
    list.forEach(function (h) {
      var b = st["b" + h];
      var p = q.packed ?
        el("p", ch["b" + h] ? "changed" : "", "id " + h + ", token " + (st["tok" + h] || "?") +
           (b ? ", " + b[1] + " ring entr" + (b[1] === 1 ? "y" : "ies") + (b[0] >= 0 ? " from slot " + b[0] : "") : "") +
           (st["t" + h] ? ", an indirect table of " + st["t" + h].length : "")) :
        el("p", ch["o" + h] ? "changed" : "", "head " + h + ", token " + (st["tok" + h] || "?"));
      p.setAttribute("data-out", h);
      out.appendChild(p);
    });
    if (st["dev.held"]) out.appendChild(el("p", "held", "the device holds: " + (st["dev.held"].join(", ") || "none")));
    if (st.broken) out.appendChild(el("p", "broken", "BROKEN: " + st.broken));
    box.appendChild(out);

    var c = el("div", "q-counts");
    c.appendChild(el("h3", null, "counted in this recording so far"));
    var t = el("table");
    COUNTS.forEach(function (c) {
      var key = "n." + c[0];
      if (st[key] === undefined) return;
      var tr = el("tr", ch[key] ? "changed" : "");
      tr.appendChild(el("td", null, q.packed && c[2] ? c[2] : c[1]));
      var v = el("td", "count", String(st[key]));
      v.setAttribute("data-count", c[0]);
      tr.appendChild(v);
      t.appendChild(tr);
    });
    c.appendChild(t);
    var sc = q.start_counts, ec = q.stop_counts;
    if (sc && ec && sc.added !== undefined && ec.added !== undefined) {
      var p2 = el("p", "driver-counts", "the driver's own counters (struct virtq_stats) moved by: chains " +
                  (ec.added - sc.added) + ", notifies " + (ec.notifies - sc.notifies) + ", interrupts " +
                  (ec.interrupts - sc.interrupts) + ", completions " + (ec.completions - sc.completions));
      c.appendChild(p2);
    }
    box.appendChild(c);
  };

  // ---- the page ----
  var meta = data.meta, metaBox = document.getElementById("meta");
  var bits = [];
  if (meta.command) bits.push("command: " + meta.command);
  bits.push(meta.records + " records" + (meta.dropped ? ", " + meta.dropped + " steps dropped (the buffer was full)" : ""));
  if (meta.damaged) bits.push(meta.damaged + " damaged console lines skipped");
  if (meta.qemu_lines) bits.push(meta.qemu_lines + " lines of QEMU's trace");
  if (meta.made) bits.push("made " + meta.made);
  metaBox.appendChild(el("p", null, bits.join(" \u00b7 ")));
  if (meta.lsdev_before && meta.lsdev_after) {
    var pre = el("pre", "lsdev", "lsdev -v before:\n" + meta.lsdev_before + "\nlsdev -v after:\n" + meta.lsdev_after);
    metaBox.appendChild(pre);
  }
  if (meta.monitor) {
    metaBox.appendChild(el("pre", "monitor", "QEMU's monitor afterwards (info virtio-queue-status):\n" + meta.monitor));
  }

  var tabs = document.getElementById("tabs"), main = document.getElementById("queues");
  var views = [], current = 0;
  function show(i) {
    current = i;
    views.forEach(function (v, j) {
      v.root.style.display = j === i ? "" : "none";
      v.tab.classList.toggle("active", j === i);
    });
  }
  data.queues.forEach(function (q, i) {
    var root = el("div", "queue");
    root.setAttribute("data-qid", q.qid);
    main.appendChild(root);
    var v = new QueueView(q, root);
    v.tab = el("button", "tab", (i + 1) + ": " + q.name + " (" + q.steps.length + " steps)");
    v.tab.addEventListener("click", function () { show(i); });
    tabs.appendChild(v.tab);
    views.push(v);
  });
  if (!views.length) main.appendChild(el("p", null, "The recording holds no queue."));
  else show(0);

  document.addEventListener("keydown", function (e) {
    var v = views[current];
    if (!v || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowRight" || e.key === "n") v.go(v.k + 1);
    else if (e.key === "ArrowLeft" || e.key === "p") v.go(v.k - 1);
    else if (e.key === "Home") v.go(0);
    else if (e.key === "End") v.go(v.q.steps.length);
    else if (e.key >= "1" && e.key <= "9" && Number(e.key) <= views.length) show(Number(e.key) - 1);
    else return;
    e.preventDefault();
  });
  // For tests and the curious: the views and their states.
  window.vtrace = { views: views, show: show };
})();
