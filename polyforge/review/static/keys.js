// Keyboard-first review: j/k next/previous, a accept, r reject, e edit, s skip, ? the keys (see base.html).
// Served as a static file so that the pages' CSP can keep forbidding inline script.
"use strict";

(function () {
  const help = () => document.getElementById("keys-help");
  const rows = () => Array.from(document.querySelectorAll("table.queue tr")).filter((row) => row.querySelector("a"));
  let selected = -1;

  function select(index) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("current", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function follow(selector) {
    const link = document.querySelector(selector);
    if (link) window.location.assign(link.href);
  }

  function click(selector) {
    const button = document.querySelector(selector);
    if (button) button.click();
  }

  function edit() {
    const details = document.getElementById("edit");
    if (!details) return;
    details.open = true;
    const field = details.querySelector("textarea");
    field.focus();
    field.setSelectionRange(0, 0);
  }

  const onQueue = () => rows().length > 0 && !document.querySelector("form.verdict");
  const actions = {
    j: () => (onQueue() ? select(selected + 1) : follow("a[rel=next]")),
    k: () => (onQueue() ? select(selected - 1) : follow("a[rel=prev]")),
    o: () => onQueue() && selected >= 0 && follow("table.queue tr.current a"),
    Enter: () => onQueue() && selected >= 0 && follow("table.queue tr.current a"),
    x: () => {
      const box = onQueue() && selected >= 0 && rows()[selected].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
    },
    a: () => click("form.verdict button.accept"),
    r: () => click("form.verdict button.reject"),
    e: edit,
    s: () => follow("nav.pager a.skip"),
    "?": () => { help().hidden = !help().hidden; },
    Escape: () => { help().hidden = true; },
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || !help()) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;  // typing in a field, not a command
    }
    if (event.key === "Enter" && target.closest && target.closest("a, button")) return;  // its own click
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
})();
