// Omnichannel Academy: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function sectionFor(element) {
    return element && element.closest ? element.closest("details") : null;
  }

  // Deep links: #section-id opens that section (and any block around the target) and shows it.
  function openFromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var target = document.getElementById(id);
    if (!target) return;
    var details = target.tagName === "DETAILS" ? target : sectionFor(target);
    while (details) {
      details.open = true;
      details = sectionFor(details.parentElement);
    }
    target.scrollIntoView({ block: "start" });
  }

  function init() {
    openFromHash();
    watchReading();
    highlightLevel();
    fitSidePanel();
    window.addEventListener("hashchange", openFromHash);

    // The address follows the open section, so a copied link or a language switch keeps it.
    document.querySelectorAll("details[data-section]").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (details.open && location.hash !== "#" + details.id) {
          history.replaceState(null, "", "#" + details.id);
        }
      });
    });

    // Language switch: same module, same section.
    document.querySelectorAll("a[data-keep-hash]").forEach(function (link) {
      link.addEventListener("click", function () {
        var base = link.href.split("#")[0];
        link.href = base + location.hash;
      });
    });

    document.querySelectorAll("[data-expand-all], [data-collapse-all]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.hasAttribute("data-expand-all");
        document.querySelectorAll("details[data-section]").forEach(function (d) { d.open = open; });
      });
    });

    // The outline folds away on narrow screens and stays open on wide ones.
    var outline = document.querySelector("[data-outline]");
    if (outline && window.matchMedia) {
      var narrow = window.matchMedia("(max-width: 900px)");
      var apply = function () { outline.open = !narrow.matches; };
      apply();
      if (narrow.addEventListener) narrow.addEventListener("change", apply);
      outline.querySelectorAll("a").forEach(function (a) {
        a.addEventListener("click", function () { if (narrow.matches) outline.open = false; });
      });
    }

    // Portrait hint: dismissed once, remembered on this device.
    var hint = document.querySelector("[data-rotate-hint]");
    var key = "academy.rotateHintDismissed";
    if (hint) {
      try { if (localStorage.getItem(key)) hint.setAttribute("data-dismissed", ""); } catch (e) { /* storage off */ }
      var button = hint.querySelector("[data-dismiss-rotate]");
      if (button) button.addEventListener("click", function () {
        hint.setAttribute("data-dismissed", "");
        try { localStorage.setItem(key, "1"); } catch (e) { /* storage off */ }
      });
    }
  }

  // The page's CSRF token. A first-time visitor's page is the same cached bytes for everyone
  // and carries none: ask the server once for this session's token (it starts the session).
  var tokenRequest = null;
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute("content") : "";
    if (token) return Promise.resolve(token);
    if (!tokenRequest) {
      tokenRequest = fetch("/csrf-token", { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { token: "" }; })
        .then(function (data) {
          if (meta && data.token) meta.setAttribute("content", data.token);
          tokenRequest = null;
          return data.token || "";
        })
        .catch(function () { tokenRequest = null; return ""; });
    }
    return tokenRequest;
  }
  window.AcademyCsrf = csrfToken;

  // A statement id (a UUID v4): the server stores an id once, so a beacon sent twice (nginx
  // retrying it on another app server, a flush interrupted) still counts once.
  function statementId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // Progress beacon: shared with the audio player (window.AcademyProgress.send). Through the
  // offline outbox (offline.js) when the page has it: a statement id, kept until it is sent.
  function sendProgress(payload, to) {
    var url = to || document.body.getAttribute("data-progress-url");
    if (!url) return Promise.resolve(null);
    if (window.AcademyOffline) {
      return window.AcademyOffline.send(url, payload).then(function (data) {
        if (data) showProgress(data);
        else if (payload.verb === "section-read") showProgress({ read: [payload.section] });
        return data;
      });
    }
    return csrfToken().then(function (token) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify(Object.assign({ id: statementId() }, payload))
      });
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data) showProgress(data);
      return data;
    }).catch(function () { return null; });  // progress is best effort; reading goes on
  }
  window.AcademyProgress = { send: sendProgress };

  function showProgress(data) {
    (data.read || []).forEach(function (id) {
      var item = document.querySelector('[data-outline-section="' + id + '"]');
      if (item && !item.classList.contains("read")) {
        item.classList.add("read");
        var mark = document.createElement("span");
        mark.className = "read-mark";
        mark.textContent = " ✓";
        item.appendChild(mark);
      }
      var section = document.getElementById(id);
      if (section) section.classList.add("is-read");
    });
    var count = document.querySelector("[data-read-count]");
    if (count && typeof data.total === "number") {
      count.textContent = (data.read || []).length + " / " + data.total;
    }
  }

  // A section counts as read once it has been open on screen for the time its length asks for
  // (data-read-seconds, from the words it holds: app/config.py READ_*). Time only runs while
  // the page is visible and the section's text is in view.
  function watchReading() {
    if (!document.body.getAttribute("data-progress-url") || !("IntersectionObserver" in window)) return;
    var visibleSince = {};
    var spent = {};
    var sent = {};
    function pause(id) {
      if (!visibleSince[id]) return;
      spent[id] = (spent[id] || 0) + Date.now() - visibleSince[id];
      delete visibleSince[id];
    }
    var inView = {};
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var id = entry.target.closest("details").id;
        inView[id] = entry.isIntersecting;
        if (entry.isIntersecting && !document.hidden) visibleSince[id] = Date.now();
        else pause(id);
      });
    }, { threshold: 0.25 });
    document.querySelectorAll("details[data-section]:not([data-no-read]) > .section-body").forEach(function (body) {
      observer.observe(body);
    });
    document.addEventListener("visibilitychange", function () {
      Object.keys(inView).forEach(function (id) {
        if (document.hidden) pause(id);
        else if (inView[id]) visibleSince[id] = Date.now();
      });
    });
    setInterval(function () {
      Object.keys(visibleSince).forEach(function (id) {
        var section = document.getElementById(id);
        if (sent[id] || !section || !section.open) return;
        var seconds = Math.floor(((spent[id] || 0) + Date.now() - visibleSince[id]) / 1000);
        var needed = parseFloat(section.getAttribute("data-read-seconds") || "5");
        if (seconds >= needed) {
          sent[id] = true;
          sendProgress({ verb: "section-read", section: id, seconds: seconds });
        }
      });
    }, 500);
  }

  // The sticky side panel is as tall as the screen, but it cannot leave the page's layout: at
  // the page end, with the footer in view, it would be pushed up and its heading cut off. So
  // it is never taller than the room between its sticky top and the layout's visible bottom
  // (its own scroll bar reaches the rest).
  function fitSidePanel() {
    var panel = document.querySelector(".side-panel");
    var layout = panel && panel.parentElement;
    if (!layout) return;
    var pending = false;
    function fit() {
      pending = false;
      var style = getComputedStyle(panel);
      if (style.position !== "sticky") { panel.style.maxHeight = ""; return; }
      var top = parseFloat(style.top) || 0;
      var bottom = Math.min(window.innerHeight, layout.getBoundingClientRect().bottom);
      var room = Math.floor(bottom - top - Math.min(top, 12));
      panel.style.maxHeight = room < window.innerHeight - 2 * top ? Math.max(room, 120) + "px" : "";
    }
    function later() { if (!pending) { pending = true; window.requestAnimationFrame(fit); } }
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    fit();
  }

  // The learner's EQF level: its deepening blocks open and stand out.
  function highlightLevel() {
    var level = document.body.getAttribute("data-eqf-level");
    if (!level) return;
    document.querySelectorAll('details.eqf-block[data-eqf="' + level + '"]').forEach(function (block) {
      block.open = true;
      block.classList.add("eqf-match");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
