/* Omnichannel Academy SCORM 1.2 runtime: reading, audio read-along, the quiz graded here,
 * and what the LMS records (lesson status, score, session time, place, suspend data).
 * Licence: GPL-3.0-or-later (the platform's). Grading mirrors app/quizzes/grading.py. */
(function () {
  "use strict";

  var data = window.ACADEMY_SCO;
  var words = data.words;
  var EPSILON = 1e-9;

  // --- the LMS's API (SCORM 1.2 runtime environment, section 3.3.6.1) ----------------------

  function findAPI(win) {
    var tries = 0;
    while (win && !win.API && win.parent && win.parent !== win && tries < 500) {
      tries += 1;
      win = win.parent;
    }
    return win && win.API ? win.API : null;
  }

  var api = findAPI(window) || (window.opener ? findAPI(window.opener) : null);
  var started = Date.now();
  var finished = false;
  var state = { v: 1, read: [], best: null, last: null };
  var place = "";

  function get(element) {
    return api ? String(api.LMSGetValue(element)) : "";
  }

  function set(element, value) {
    if (api && String(api.LMSSetValue(element, String(value))) !== "true") {
      // The LMS refused it: say so in the console, the learner's work goes on.
      window.console.warn("LMSSetValue refused", element, value, api.LMSGetLastError());
    }
  }

  function commit() {
    if (api) {
      set("cmi.suspend_data", JSON.stringify(state));
      if (place) {
        set("cmi.core.lesson_location", place);
      }
      api.LMSCommit("");
    }
  }

  function status(text) {
    document.querySelector("[data-sco-status]").textContent = text;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, name) { return String(values[name]); });
  }

  // --- session time: CMITimespan, HHHH:MM:SS.SS --------------------------------------------

  function timespan(ms) {
    var centis = Math.round(ms / 10);
    var hours = Math.floor(centis / 360000);
    var minutes = Math.floor((centis % 360000) / 6000);
    var seconds = (centis % 6000) / 100;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var whole = Math.floor(seconds);
    var fraction = Math.round((seconds - whole) * 100);
    return two(hours) + ":" + two(minutes) + ":" + two(whole) + "." + two(fraction);
  }

  function finish() {
    if (finished || !api) {
      return;
    }
    finished = true;
    set("cmi.core.session_time", timespan(Date.now() - started));
    // "suspend": the LMS keeps place and suspend data and hands them back on relaunch.
    set("cmi.core.exit", "suspend");
    commit();
    api.LMSFinish("");
  }

  // --- reading ------------------------------------------------------------------------------

  function allRead() {
    return data.readingSections.every(function (id) { return state.read.indexOf(id) >= 0; });
  }

  function showProgress() {
    var total = data.readingSections.length;
    var read = data.readingSections.filter(function (id) { return state.read.indexOf(id) >= 0; }).length;
    document.querySelector("[data-sco-progress]").textContent = format(words.read, { read: read, total: total });
    data.readingSections.forEach(function (id) {
      var section = document.getElementById(id);
      var mark = section && section.querySelector("[data-read-mark]");
      if (mark) {
        mark.hidden = state.read.indexOf(id) < 0;
      }
    });
    if (state.best !== null) {
      var best = document.querySelector("[data-sco-best]");
      if (best) {
        best.hidden = false;
        best.textContent = format(words.best, { score: state.best });
      }
    }
  }

  function markRead(id) {
    if (data.readingSections.indexOf(id) < 0 || state.read.indexOf(id) >= 0) {
      return;
    }
    state.read.push(id);
    showProgress();
    if (!data.questions.length && allRead()) {
      set("cmi.core.lesson_status", "completed");
      status(words.completed);
    }
    commit();
  }

  function watchSections() {
    var seen = typeof IntersectionObserver === "function" ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var section = entry.target.closest("[data-section]");
        if (entry.isIntersecting && section && section.open) {
          markRead(section.id);
        }
      });
    }) : null;
    Array.prototype.forEach.call(document.querySelectorAll("[data-section]"), function (section) {
      var end = document.createElement("span");
      end.className = "sco-section-end";
      section.querySelector(".sco-section-body").appendChild(end);
      if (seen && !section.hasAttribute("data-no-read")) {
        seen.observe(end);
      }
      section.addEventListener("toggle", function () {
        if (section.open) {
          place = section.id;
          commit();
        }
      });
    });
  }

  // --- audio and its read-along -------------------------------------------------------------

  function watchAudio() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-audio]"), function (figure) {
      var audio = figure.querySelector("audio");
      var sentences = Array.prototype.slice.call(figure.querySelectorAll(".sco-sentence"));
      var furthest = 0;
      audio.addEventListener("timeupdate", function () {
        var now = audio.currentTime;
        furthest = Math.max(furthest, now);
        sentences.forEach(function (s) {
          var on = now >= Number(s.dataset.start) && now < Number(s.dataset.end);
          s.classList.toggle("sco-speaking", on);
        });
        var duration = audio.duration || data.audio[figure.dataset.audio].duration;
        if (duration && furthest >= 0.9 * duration) {
          markRead(figure.dataset.audio);
        }
      });
      audio.addEventListener("ended", function () { markRead(figure.dataset.audio); });
      sentences.forEach(function (s) {
        s.addEventListener("click", function () {
          audio.currentTime = Number(s.dataset.start);
          audio.play();
        });
      });
    });
  }

  // --- grading (the rules of app/quizzes/grading.py) ----------------------------------------

  function clamp(value) {
    return value >= 1 - EPSILON ? 1 : Math.max(0, value);
  }

  function normalise(text) {
    return text.normalize("NFC").replace(/\s+/g, " ").trim().toLowerCase().replace(/ß/g, "ss");
  }

  function escapeRegex(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function wildcardMatch(pattern, response) {
    var pieces = normalise(pattern).split(/(?<!\\)\*/);
    var source = pieces.map(function (p) { return escapeRegex(p.replace(/\\\*/g, "*")); }).join(".*");
    return new RegExp("^" + source + "$", "s").test(normalise(response));
  }

  var EN_THOUSANDS = /^[-+]?\d{1,3}(?:(?:,\d{3}){2,}(?:\.\d+)?|,\d{3}\.\d+)$/;
  var IT_THOUSANDS = /^[-+]?\d{1,3}(?:(?:\.\d{3}){2,}(?:,\d+)?|\.\d{3},\d+)$/;

  function parseNumber(text) {
    var cleaned = text.trim().replace(/ /g, "");
    if (EN_THOUSANDS.test(cleaned)) {
      cleaned = cleaned.replace(/,/g, "");
    } else if (IT_THOUSANDS.test(cleaned)) {
      cleaned = cleaned.replace(/\./g, "").replace(",", ".");
    } else if ((cleaned.match(/,/g) || []).length === 1 && cleaned.indexOf(".") < 0) {
      cleaned = cleaned.replace(",", ".");
    }
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(cleaned)) {
      return null;
    }
    var value = Number(cleaned);
    return isFinite(value) ? value : null;
  }

  function best(list, better) {
    return list.reduce(function (found, item) { return found === null || better(item, found) ? item : found; }, null);
  }

  function answerOf(key, form) {
    var name = "q." + key.id;
    if (key.type === "single_choice" || key.type === "true_false") {
      var chosen = form.querySelector('input[name="' + CSS.escape(name) + '"]:checked');
      return chosen ? chosen.value : null;
    }
    if (key.type === "multiple_choice") {
      return Array.prototype.map.call(form.querySelectorAll('input[name="' + CSS.escape(name) + '"]:checked'), function (i) { return i.value; });
    }
    if (key.type === "matching") {
      var rows = {};
      Object.keys(key.rows).forEach(function (row) {
        var select = form.querySelector('select[name="' + CSS.escape(name + "." + row) + '"]');
        rows[row] = select ? select.value : "";
      });
      return rows;
    }
    if (key.type === "gap_fill") {
      var gaps = {};
      Object.keys(key.gaps).forEach(function (gap) {
        var input = form.querySelector('input[name="' + CSS.escape(name + "." + gap) + '"]');
        gaps[gap] = input ? input.value : "";
      });
      return gaps;
    }
    var field = form.querySelector('input[name="' + CSS.escape(name) + '"]');
    return field ? field.value : "";
  }

  /* One question: its score 0..1 and the feedback texts (trusted HTML from the server). */
  function grade(key, answer) {
    var feedback = [];
    var score = 0;
    if (key.type === "single_choice" || key.type === "true_false") {
      var option = answer ? key.options[answer] : null;
      score = option ? clamp(option.fraction) : 0;
      if (option && option.feedback) { feedback.push(option.feedback); }
    } else if (key.type === "multiple_choice") {
      var sum = 0;
      Object.keys(key.options).forEach(function (id) {
        if (answer.indexOf(id) >= 0) {
          sum += key.options[id].fraction;
          if (key.options[id].feedback) { feedback.push(key.options[id].feedback); }
        }
      });
      score = clamp(sum);
    } else if (key.type === "short_answer") {
      var text = best(key.answers.filter(function (a) { return answer.trim() && wildcardMatch(a.text, answer); }),
        function (a, b) { return a.fraction > b.fraction; });
      score = text ? clamp(text.fraction) : 0;
      if (text && text.feedback) { feedback.push(text.feedback); }
    } else if (key.type === "numerical") {
      var value = parseNumber(answer);
      var number = value === null ? null : best(key.numeric.filter(function (a) {
        return a.value === null || Math.abs(value - a.value) <= a.tolerance + 1e-12;
      }), function (a, b) {
        return a.fraction > b.fraction || (a.fraction === b.fraction && a.value !== null && b.value === null);
      });
      score = number ? clamp(number.fraction) : 0;
      if (number && number.feedback) { feedback.push(number.feedback); }
    } else if (key.type === "matching") {
      var rows = Object.keys(key.rows);
      var right = rows.filter(function (row) { return answer[row] === key.rows[row]; }).length;
      score = rows.length ? clamp(right / rows.length) : 0;
    } else if (key.type === "gap_fill") {
      var gaps = Object.keys(key.gaps);
      var filled = gaps.filter(function (gap) {
        var typed = answer[gap] || "";
        return typed.trim() && key.gaps[gap].some(function (a) { return normalise(a) === normalise(typed); });
      }).length;
      score = gaps.length ? clamp(filled / gaps.length) : 0;
    }
    return { score: score, feedback: feedback };
  }

  // --- the quiz -----------------------------------------------------------------------------

  function shuffle(items) {
    for (var i = items.length - 1; i > 0; i -= 1) {
      var j = Math.floor(Math.random() * (i + 1));
      var kept = items[i];
      items[i] = items[j];
      items[j] = kept;
    }
    return items;
  }

  function shuffleQuiz(form) {
    data.questions.forEach(function (key) {
      var item = form.querySelector('[data-question="' + CSS.escape(key.id) + '"]');
      if (!item) { return; }
      if (data.shuffle && (key.type === "single_choice" || key.type === "multiple_choice")) {
        var box = item.querySelector(".quiz-options");
        shuffle(Array.prototype.slice.call(box.children)).forEach(function (node) { box.appendChild(node); });
      }
      if (key.type === "matching") {
        // Always shuffled: in the written order, row n's answer would be choice n.
        Array.prototype.forEach.call(item.querySelectorAll("select"), function (select) {
          var options = Array.prototype.slice.call(select.options, 1);
          shuffle(options).forEach(function (node) { select.appendChild(node); });
        });
      }
    });
  }

  function showFeedback(item, key, result) {
    var box = item.querySelector("[data-feedback]");
    var outcome = result.score >= 1 ? "right" : result.score > 0 ? "partly" : "wrong";
    item.dataset.outcome = outcome;
    box.innerHTML = "";
    var head = document.createElement("p");
    head.className = "quiz-outcome quiz-" + outcome;
    head.textContent = words[outcome];
    box.appendChild(head);
    result.feedback.concat(key.general ? [key.general] : []).forEach(function (html) {
      var div = document.createElement("div");
      div.className = "quiz-explanation";
      div.innerHTML = html; // sanitised on the server with the platform's allow-list
      box.appendChild(div);
    });
    if (outcome !== "right" && key.right.length) {
      var label = document.createElement("p");
      label.className = "quiz-right-label";
      label.textContent = words.rightAnswer + ":";
      box.appendChild(label);
      var list = document.createElement("ul");
      key.right.forEach(function (html) {
        var li = document.createElement("li");
        li.innerHTML = html;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function passes(total) {
    return total * 100 + EPSILON >= data.passMark;
  }

  function submitQuiz(form) {
    var graded = data.questions.filter(function (k) { return k.type !== "description" && k.type !== "essay"; });
    var sum = 0;
    graded.forEach(function (key) {
      var result = grade(key, answerOf(key, form));
      sum += result.score;
      var item = form.querySelector('[data-question="' + CSS.escape(key.id) + '"]');
      if (item) { showFeedback(item, key, result); }
    });
    var total = graded.length ? clamp(sum / graded.length) : 0;
    var percent = Math.round(total * 100);
    var passed = passes(total);
    state.last = percent;
    // The best attempt counts, as on the platform.
    var wasPassed = state.best !== null && state.best >= data.passMark;
    if (state.best === null || percent > state.best) {
      state.best = percent;
    }
    set("cmi.core.score.min", "0");
    set("cmi.core.score.max", "100");
    set("cmi.core.score.raw", String(state.best));
    set("cmi.core.lesson_status", passed || wasPassed ? "passed" : "failed");
    place = "quiz";
    commit();
    Array.prototype.forEach.call(form.querySelectorAll("input, select"), function (field) { field.disabled = true; });
    var box = form.querySelector("[data-sco-result]");
    box.innerHTML = "";
    var line = document.createElement("p");
    line.className = "quiz-score";
    line.dataset.score = String(percent);
    line.textContent = format(words.score, { score: percent }) + " · " +
      format(passed ? words.passed : words.failed, { mark: data.passMark });
    box.appendChild(line);
    var again = document.createElement("button");
    again.type = "button";
    again.textContent = words.tryAgain;
    again.addEventListener("click", function () { resetQuiz(form); });
    box.appendChild(again);
    box.hidden = false;
    form.querySelector("[data-sco-check]").hidden = true;
    showProgress();
  }

  function resetQuiz(form) {
    form.reset();
    Array.prototype.forEach.call(form.querySelectorAll("input, select"), function (field) { field.disabled = false; });
    Array.prototype.forEach.call(form.querySelectorAll("[data-feedback]"), function (box) { box.hidden = true; box.innerHTML = ""; });
    Array.prototype.forEach.call(form.querySelectorAll("[data-outcome]"), function (item) { delete item.dataset.outcome; });
    form.querySelector("[data-sco-result]").hidden = true;
    form.querySelector("[data-sco-check]").hidden = false;
    shuffleQuiz(form);
    form.querySelector("input, select").focus();
  }

  // --- start --------------------------------------------------------------------------------

  function resume() {
    var saved = get("cmi.suspend_data");
    if (saved) {
      try {
        var parsed = JSON.parse(saved);
        if (parsed && parsed.v === 1) {
          state.read = Array.isArray(parsed.read) ? parsed.read.filter(function (id) { return data.readingSections.indexOf(id) >= 0; }) : [];
          state.best = typeof parsed.best === "number" ? parsed.best : null;
          state.last = typeof parsed.last === "number" ? parsed.last : null;
        }
      } catch (error) {
        window.console.warn("suspend data is not ours; starting afresh", error);
      }
    }
    place = get("cmi.core.lesson_location");
    var target = place && document.getElementById(place);
    if (target) {
      if (target.tagName === "DETAILS") { target.open = true; }
      target.scrollIntoView();
    }
    if (get("cmi.core.entry") === "resume" || saved) {
      status(words.resumed);
    }
  }

  function start() {
    if (api && String(api.LMSInitialize("")) === "true") {
      var lesson = get("cmi.core.lesson_status");
      if (lesson === "not attempted" || lesson === "") {
        set("cmi.core.lesson_status", "incomplete");
      }
      resume();
      commit();
    } else {
      api = null;
      status(words.noLms);
    }
    watchSections();
    watchAudio();
    var form = document.querySelector("[data-sco-quiz]");
    if (form) {
      shuffleQuiz(form);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitQuiz(form);
      });
    }
    showProgress();
    window.addEventListener("pagehide", finish);
    window.addEventListener("beforeunload", finish);
  }

  start();
}());
