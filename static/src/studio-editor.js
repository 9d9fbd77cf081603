// The studio's editor: CodeMirror 6 with Markdown highlighting over the plain form's textarea.
// Live preview and errors while typing come from the server's own pipeline (POST preview URL).
// Bundled by esbuild into static/vendor/ (`make static/vendor/studio-editor.js`); no CDN.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from "@codemirror/language";
import { markdown } from "@codemirror/lang-markdown";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

const DELAY = 120; // ms after the last keystroke before the preview is asked for

function start(form) {
  const textarea = form.querySelector("[data-text]");
  const preview = document.querySelector("[data-preview]");
  const list = form.querySelector("[data-problems]");
  const none = form.querySelector("[data-no-problems]");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const url = form.dataset.previewUrl;
  let timer = null;
  let sent = 0;

  // CodeMirror puts its styles in a <style> element, which the CSP ('self', no inline) blocks;
  // inside a shadow root it uses a constructed stylesheet instead, which CSP allows.
  const host = document.createElement("div");
  host.className = "studio-editor-host";
  const shadow = host.attachShadow({ mode: "open" });
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = form.dataset.editorCss;
  shadow.append(sheet);
  const view = new EditorView({
    root: shadow,
    parent: shadow,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(),
        history(), bracketMatching(), lintGutter(), markdown(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": textarea.labels[0]?.textContent || "Markdown", lang: textarea.lang }),
        EditorView.updateListener.of((update) => {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          clearTimeout(timer);
          timer = setTimeout(refresh, DELAY);
        }),
      ],
    }),
  });
  textarea.hidden = true;
  textarea.after(host);
  form.dataset.editorReady = "1";
  window.studioEditor = view;

  function goTo(line) {
    const doc = view.state.doc;
    const target = doc.line(Math.max(1, Math.min(line, doc.lines)));
    view.dispatch({ selection: { anchor: target.from }, scrollIntoView: true });
    view.focus();
  }

  function show(problems) {
    list.replaceChildren();
    for (const problem of problems) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link-button";
      button.dataset.line = problem.line;
      button.textContent = `${form.dataset.lineLabel || "Line"} ${problem.line}`;
      item.append(button, `: ${problem.message}`);
      list.append(item);
    }
    none.hidden = problems.length > 0;
    const doc = view.state.doc;
    const diagnostics = problems.map((p) => {
      const line = doc.line(Math.max(1, Math.min(p.line, doc.lines)));
      return { from: line.from, to: line.to, severity: "error", message: p.message };
    });
    view.dispatch(setDiagnostics(view.state, diagnostics));
  }

  async function refresh() {
    const mine = ++sent;
    const started = performance.now();
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ text: view.state.doc.toString() }),
      credentials: "same-origin",
    });
    if (!response.ok || mine !== sent) return; // a newer keystroke's answer will follow
    const data = await response.json();
    preview.innerHTML = data.html; // rendered and sanitised by the server's pipeline
    show(data.problems);
    form.dataset.previewMs = String(Math.round(performance.now() - started));
    form.dispatchEvent(new CustomEvent("studio:preview", { detail: data }));
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-line]");
    if (button) goTo(Number(button.dataset.line));
  });
  form.addEventListener("submit", () => { textarea.value = view.state.doc.toString(); });

  // Pictures: uploaded without leaving the page, then inserted at the cursor as Markdown.
  const upload = document.querySelector("form[data-upload]");
  if (upload) {
    const status = upload.querySelector("[data-upload-status]");
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "";
      const response = await fetch(upload.action, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": token },
        body: new FormData(upload),
        credentials: "same-origin",
      });
      let data = {};
      try { data = await response.json(); } catch (error) { data = {}; }
      if (!response.ok || !data.markdown) {
        status.textContent = data.error || `${response.status} ${response.statusText}`;
        status.dataset.uploadError = "1";
        return;
      }
      delete status.dataset.uploadError;
      const at = view.state.selection.main.head;
      const insert = `${data.markdown}\n`;
      view.dispatch({ changes: { from: at, insert }, selection: { anchor: at + insert.length } });
      status.textContent = data.markdown;
      upload.reset();
      view.focus();
    });
  }
  // Errors rendered by the server with the page: mark them in the editor too.
  show([...list.querySelectorAll("[data-line]")].map((b) => ({
    line: Number(b.dataset.line), message: b.parentElement.textContent.split(": ").slice(1).join(": "),
  })));
}

document.querySelectorAll("form[data-studio-editor]").forEach(start);
