// Almanac's one own script: what htmx cannot do, under `script-src 'self'`.
// Dialogs, toasts, polling pause, the browser's time zone, the theme toggle and
// confirmations. Every page works without it; it only makes them smoother.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var body = document.body;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  // --- Preferences sent in the background (the server answers 204). ---------
  function savePreference(fields) {
    var data = new URLSearchParams(fields);
    data.set("csrf_token", csrf);
    data.set("silent", "1");
    return fetch(body.dataset.preferencesUrl, {
      method: "POST", body: data, credentials: "same-origin",
    });
  }

  // The browser's zone goes in its own cookie, written here, so the next page
  // shows times in it (this one says which zone it used). No request is sent:
  // a background POST answered after a sign-in would overwrite the new session.
  var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  var zoneCookie = body.dataset.zoneCookie;
  if (zoneCookie && browserZone) {
    var current = document.cookie.split("; ").filter(function (pair) {
      return pair.indexOf(zoneCookie + "=") === 0;
    })[0];
    var wanted = zoneCookie + "=" + encodeURIComponent(browserZone);
    if (current !== wanted) {
      document.cookie = wanted + "; path=/; max-age=31536000; SameSite=Lax"
        + (location.protocol === "https:" ? "; Secure" : "");
    }
  }

  // After htmx pushes a new URL (a search, a page), the shell's preference
  // forms must bring the user back to that URL, not to the one first loaded.
  body.addEventListener("htmx:pushedIntoHistory", function () {
    var here = location.pathname + location.search;
    var action = body.dataset.preferencesUrl;
    document.querySelectorAll('form[action="' + action + '"] input[name="next"]')
      .forEach(function (input) { input.value = here; });
  });

  // --- Theme toggle: flip at once, then remember it. ---------------------------
  function shownTheme() {
    var set = document.documentElement.dataset.theme;
    if (set) return set;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-theme-toggle")) return;
    event.preventDefault();
    var next = shownTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    savePreference({ theme: next });
  });

  // --- Dialogs: data-dialog-open="id" opens, data-dialog-close closes. -------
  // showModal traps focus and Esc closes; focus goes back to the opener.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.dialogOpen);
      if (dialog) {
        event.preventDefault();
        dialog.addEventListener("close", function () { opener.focus(); }, { once: true });
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer && closer.closest("dialog")) {
      event.preventDefault();
      closer.closest("dialog").close();
    }
  });

  // A link that opens a dialog is still a link: Ctrl/Cmd/Shift-click opens its page in a new
  // tab or window. Caught before htmx (on the link) and the opener above (bubbling) see it.
  document.addEventListener("click", function (event) {
    if (!(event.ctrlKey || event.metaKey || event.shiftKey)) return;
    var link = event.target.closest && event.target.closest("a[href][data-dialog-open]");
    if (link) event.stopImmediatePropagation();
  }, true);

  // A sheet is filled by htmx each time it opens: closing empties it, so the next opening never
  // shows the previous summary or form, and a running run's poll inside it stops. A request
  // still in flight inside it (the form's check of a field, sent as Save closed the sheet) is
  // let answer first: its out-of-band swaps need their targets, or htmx reports an error.
  function emptyClosedSheet(content) {
    var dialog = content.closest("dialog");
    if (dialog && !dialog.open && !content.querySelector(".htmx-request")) {
      content.replaceChildren();
    }
  }
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (!dialog.matches || !dialog.matches("dialog.sheet")) return;
    var content = dialog.querySelector("#job-sheet-body");
    if (content) emptyClosedSheet(content);
  }, true);
  document.addEventListener("htmx:afterRequest", function (event) {
    var content = event.target.closest && event.target.closest("#job-sheet-body");
    // After htmx has removed the request's class (the swap itself is done by now).
    if (content) window.setTimeout(function () { emptyClosedSheet(content); }, 0);
  });

  // --- Confirm forms marked data-confirm in a <dialog>, not window.confirm. ---
  // Runs in the capture phase, before htmx sees the submit; a confirmed form is
  // submitted again with a flag so it passes through (htmx or plain).
  var confirmDialog = document.getElementById("confirm-dialog");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-confirm") || !confirmDialog) return;
    if (form.dataset.confirmed === "yes") { delete form.dataset.confirmed; return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    var submitter = event.submitter;
    confirmDialog.querySelector("[data-confirm-message]").textContent = form.dataset.confirm;
    confirmDialog.returnValue = "";
    confirmDialog.addEventListener("close", function () {
      (submitter || form).focus();
      if (confirmDialog.returnValue !== "ok") return;
      form.dataset.confirmed = "yes";
      form.requestSubmit(submitter || undefined);
    }, { once: true });
    confirmDialog.showModal();
  }, true);

  // --- Toasts: flashed messages and HX-Trigger {"toast": {message, level}}. ---
  var toasts = document.getElementById("toasts");
  function dismissLater(toast) {
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", toasts.dataset.closeLabel || "×");
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    // Errors stay until closed; other messages leave after a while.
    if (toast.getAttribute("role") !== "alert") {
      setTimeout(function () { toast.remove(); }, 8000);
    }
  }
  function showToast(message, level) {
    var toast = document.createElement("p");
    toast.className = "flash flash-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    toasts.appendChild(toast);
    dismissLater(toast);
  }
  if (toasts) {
    toasts.classList.add("toasts-floating");
    toasts.querySelectorAll(".flash").forEach(dismissLater);
    body.addEventListener("toast", function (event) {
      var detail = event.detail || {};
      if (detail.value) detail = detail.value;  // htmx wraps a non-object payload
      if (detail.message) showToast(detail.message, detail.level);
    });
  }

  // --- Copy buttons: data-copy="<input id>" copies that input (a secret shown once). ---
  // Without JS the button stays hidden; the read-only input is there to select and copy.
  function showCopyButtons(root) {
    (root || document).querySelectorAll("button[data-copy][hidden]").forEach(function (button) {
      if (navigator.clipboard) button.hidden = false;
    });
  }
  showCopyButtons();
  body.addEventListener("htmx:afterSettle", function (event) { showCopyButtons(event.detail.elt); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    var input = button && document.getElementById(button.dataset.copy);
    if (!input) return;
    input.select();
    navigator.clipboard.writeText(input.value).then(function () {
      showToast(button.dataset.copied || "✓", "success");
    }, function () { input.focus(); });
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-select-all]")) event.target.select();
  });

  // --- Polling pauses while the tab is hidden. -------------------------------
  // Elements polled with hx-trigger="every …" keep their timer, but requests
  // are cancelled while hidden; the first tick after the tab shows again fetches.
  body.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.elt.getAttribute("hx-trigger") || "";
    if (document.hidden && /(^|,)\s*every\s/.test(trigger)) event.preventDefault();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll('[hx-trigger*="every "]').forEach(function (element) {
      window.htmx.trigger(element, "almanac:visible");
    });
  });
  // --- Job editor (sheet and full pages). ------------------------------------
  // A saved job closes the sheet: the server answers HX-Trigger {"jobSaved": …}.
  body.addEventListener("jobSaved", function () {
    var sheet = document.getElementById("job-sheet");
    if (sheet && sheet.open) sheet.close();
  });

  // Leaving with unsaved changes asks first. A form marked data-dirty-guard turns
  // dirty on input (the server marks a re-rendered POST dirty); submitting clears it.
  function dirtyForm(root) {
    return (root || document).querySelector("form[data-dirty-guard][data-dirty]");
  }
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-dirty-guard]");
    if (form) form.dataset.dirty = "yes";
  });
  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-dirty-guard")) delete event.target.dataset.dirty;
  });
  body.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    // The form's own post (save, preview, preset) is not leaving; field checks are not either.
    if (elt.matches && elt.matches("form[data-dirty-guard]")) delete elt.dataset.dirty;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirtyForm()) event.preventDefault();
  });
  function confirmLeavingSheet(dialog, event) {
    var form = dirtyForm(dialog);
    if (!form) return;
    if (window.confirm(form.dataset.unsavedText || "?")) { delete form.dataset.dirty; return; }
    event.preventDefault();
    event.stopImmediatePropagation();
  }
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-dialog-close]");
    var dialog = closer && closer.closest("dialog");
    if (dialog) confirmLeavingSheet(dialog, event);
  }, true);
  document.addEventListener("cancel", function (event) {  // Esc on a <dialog>
    if (event.target.tagName === "DIALOG") confirmLeavingSheet(event.target, event);
  }, true);

  // Cron presets: the chosen preset shows its own inputs and writes the expression
  // (without JS, a "Use this preset" button asks the server: forms.preset_expression).
  function presetExpression(box) {
    var value = function (name) { var el = box.querySelector('[name="' + name + '"]'); return el ? el.value : ""; };
    var clamp = function (text, low, high, fallback) {
      var n = parseInt(text, 10);
      return isNaN(n) ? fallback : Math.max(low, Math.min(high, n));
    };
    var time = (value("preset_time") || "09:00").split(":");
    var at = clamp(time[1], 0, 59, 0) + " " + clamp(time[0], 0, 23, 9);
    var kinds = {
      every: function () { return "*/" + clamp(value("preset_every"), 1, 59, 15) + " * * * *"; },
      hourly: function () { return clamp(value("preset_minute"), 0, 59, 0) + " * * * *"; },
      daily: function () { return at + " * * *"; },
      weekly: function () { return at + " * * " + (value("preset_weekday") || "1"); },
      monthly: function () { return at + " " + clamp(value("preset_day"), 1, 31, 1) + " * *"; },
    };
    var kind = kinds[value("preset")];
    return kind ? kind() : null;
  }
  function syncPresets(root) {
    (root || document).querySelectorAll("[data-preset]").forEach(function (box) {
      box.dataset.presetKind = box.querySelector('[name="preset"]').value;
    });
  }
  function applyPreset(event) {
    var box = event.target.closest && event.target.closest("[data-preset]");
    if (!box) return;
    syncPresets(box.parentNode);
    var expression = presetExpression(box);
    var input = box.closest("form").querySelector('[name="cron_expression"]');
    if (!expression || !input || input.value === expression) return;
    input.value = expression;
    input.dispatchEvent(new Event("input", { bubbles: true }));  // the live preview follows
  }
  document.addEventListener("change", applyPreset);
  document.addEventListener("input", applyPreset);
  syncPresets();
  body.addEventListener("htmx:afterSettle", function (event) { syncPresets(event.detail.elt); });
})();
