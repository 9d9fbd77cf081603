// The quiz page: questions left without an answer are flagged before the attempt is sent.
// The first "Check my answers" with blanks stops, lists them (links to each) and moves focus to
// that list so a screen reader reads it; the learner may answer them or send the attempt as it
// is. Without JavaScript the form is sent at once and the result page says what was left blank.
(function () {
  "use strict";

  function answered(question) {
    var controls = question.querySelectorAll("input, select, textarea");
    return Array.prototype.some.call(controls, function (control) {
      if (control.type === "radio" || control.type === "checkbox") return control.checked;
      if (control.type === "hidden") return false;
      return control.value.trim() !== "";
    });
  }

  function flag(question, on, noteText) {
    var fieldset = question.querySelector("fieldset");
    var note = question.querySelector("[data-unanswered-note]");
    question.classList.toggle("is-unanswered", on);
    if (on && !note) {
      note = document.createElement("p");
      note.className = "quiz-unanswered-note";
      note.id = question.id + "-unanswered";
      note.setAttribute("data-unanswered-note", "");
      note.textContent = noteText;
      fieldset.insertBefore(note, fieldset.querySelector(".quiz-text"));
      fieldset.setAttribute(
        "aria-describedby",
        (fieldset.getAttribute("aria-describedby") || "") + " " + note.id
      );
    } else if (!on && note) {
      fieldset.setAttribute(
        "aria-describedby",
        (fieldset.getAttribute("aria-describedby") || "").replace(" " + note.id, "")
      );
      note.remove();
    }
  }

  function init() {
    var form = document.querySelector("form[data-quiz-form]");
    if (!form) return;
    var summary = form.querySelector("[data-unanswered-summary]");
    var list = summary.querySelector("ul");
    var message = summary.querySelector("[data-unanswered-message]");
    var noteText = summary.getAttribute("data-note");
    var questions = Array.prototype.slice.call(form.querySelectorAll("li.quiz-question"));
    var warned = false;

    function blanks() {
      return questions.filter(function (q) { return !answered(q); });
    }

    function show(missing) {
      list.textContent = "";
      missing.forEach(function (question) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = "#" + question.id;
        link.textContent = question.querySelector("legend").textContent;
        item.appendChild(link);
        list.appendChild(item);
      });
      questions.forEach(function (q) { flag(q, missing.indexOf(q) !== -1, noteText); });
      summary.hidden = missing.length === 0;
    }

    form.addEventListener("submit", function (event) {
      var missing = blanks();
      if (warned || missing.length === 0) return;
      // Once: the learner has been told, and may still send the attempt as it is.
      event.preventDefault();
      warned = true;
      show(missing);
      // Text put into the alert is announced once; later updates of the list are not.
      message.textContent = summary.getAttribute("data-message");
      summary.focus();
    });

    // Answering a flagged question takes its flag (and its line in the list) away.
    form.addEventListener("change", function () { if (warned) show(blanks()); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
