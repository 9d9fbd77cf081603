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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
