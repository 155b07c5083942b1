// reader.js: the little the annotated reader does in the browser
// (tools/reader/reader.py writes the pages, `make reader`):
//   - the search box: names (definitions) and comments, from
//     window.READER_INDEX, which search-index.js sets (loaded with a
//     <script> tag, so it works from file:// where fetch() does not);
//   - a link to a definition's uses (#uses-...) opens that list.
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";
  var index = window.READER_INDEX || { names: [], comments: [] };
  var box = document.getElementById("q");
  var panel = document.getElementById("results");
  var MAX_NAMES = 25, MAX_COMMENTS = 15;

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  // Names: an exact match first, then names starting with the query, then
  // names containing it; shorter names before longer ones.
  function findNames(q) {
    var ql = q.toLowerCase(), hits = [];
    for (var i = 0; i < index.names.length; i++) {
      var n = index.names[i], nl = n[0].toLowerCase(), at = nl.indexOf(ql);
      if (at < 0) continue;
      var rank = nl === ql ? 0 : at === 0 ? 1 : 2;
      hits.push([rank, n[0].length, n]);
    }
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || (a[2][0] < b[2][0] ? -1 : 1); });
    return hits.slice(0, MAX_NAMES).map(function (h) { return h[2]; });
  }

  // Comments: every word of the query must appear.
  function findComments(q) {
    var words = q.toLowerCase().split(/\s+/).filter(Boolean), hits = [];
    for (var i = 0; i < index.comments.length && hits.length < MAX_COMMENTS; i++) {
      var c = index.comments[i], tl = c[2].toLowerCase();
      if (words.every(function (w) { return tl.indexOf(w) >= 0; })) hits.push(c);
    }
    return hits;
  }

  function snippet(text, q) {
    var w = q.toLowerCase().split(/\s+/).filter(Boolean)[0] || "";
    var at = Math.max(0, text.toLowerCase().indexOf(w));
    var from = Math.max(0, at - 60), s = text.slice(from, from + 180);
    var out = esc(s);
    if (w) {
      var re = new RegExp("(" + w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + ")", "ig");
      out = out.replace(re, "<mark>$1</mark>");
    }
    return (from > 0 ? "\u2026" : "") + out + (from + 180 < text.length ? "\u2026" : "");
  }

  function show(q) {
    q = q.trim();
    if (q.length < 2) { panel.hidden = true; panel.innerHTML = ""; return; }
    var names = findNames(q), comments = findComments(q), h = [];
    if (names.length) {
      h.push('<div class="group">names</div>');
      names.forEach(function (n) {
        h.push('<a class="hit name" href="' + esc(root + n[2] + "#L" + n[3]) + '"><code>' + esc(n[0]) +
               '</code><span class="k">' + esc(n[1]) + '</span><span class="p">' +
               esc(n[2].replace(/\.html$/, "") + ":" + n[3]) + "</span></a>");
      });
    }
    if (comments.length) {
      h.push('<div class="group">comments</div>');
      comments.forEach(function (c) {
        h.push('<a class="hit comment" href="' + esc(root + c[0] + "#L" + c[1]) + '"><span class="p">' +
               esc(c[0].replace(/\.html$/, "") + ":" + c[1]) + '</span><span class="snip">' +
               snippet(c[2], q) + "</span></a>");
      });
    }
    if (!h.length) h.push('<div class="none">nothing found for \u201c' + esc(q) + "\u201d</div>");
    panel.innerHTML = h.join("");
    panel.hidden = false;
  }

  function move(step) {
    var hits = panel.querySelectorAll("a.hit");
    if (!hits.length) return;
    var cur = panel.querySelector("a.sel"), i = Array.prototype.indexOf.call(hits, cur);
    if (cur) cur.classList.remove("sel");
    i = (i + step + hits.length) % hits.length;
    hits[i].classList.add("sel");
    hits[i].scrollIntoView({ block: "nearest" });
  }

  if (box && panel) {
    box.addEventListener("input", function () { show(box.value); });
    box.addEventListener("focus", function () { if (box.value) show(box.value); });
    box.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") { move(1); e.preventDefault(); }
      else if (e.key === "ArrowUp") { move(-1); e.preventDefault(); }
      else if (e.key === "Enter") {
        var go = panel.querySelector("a.sel") || panel.querySelector("a.hit");
        if (go) window.location.href = go.href;
      } else if (e.key === "Escape") { panel.hidden = true; box.blur(); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "/" && document.activeElement !== box) { box.focus(); e.preventDefault(); }
    });
    document.addEventListener("click", function (e) {
      if (!panel.contains(e.target) && e.target !== box) panel.hidden = true;
    });
  }

  // A link to #uses-... opens that list; a line inside a closed list too.
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) return;
    var el = document.getElementById(id);
    if (!el) return;
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") p.open = true;
    }
    var line = el.classList.contains("l") || el.classList.contains("pl");
    el.scrollIntoView({ block: line ? "center" : "start" });
  }
  window.addEventListener("hashchange", openTarget);
  if (window.location.hash) openTarget();
})();
