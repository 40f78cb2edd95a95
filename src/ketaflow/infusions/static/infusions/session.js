/* KetaFlow infusion session page: chart without a full page reload, and lose no entry.
 *
 * Every form marked data-ajax is sent with fetch (CSRF token from the form, header
 * X-KetaFlow-Fragment: 1); the server answers with JSON holding re-rendered page fragments,
 * which replace the sections they name. Forms marked data-queue (vitals, pump events, side
 * effects) carry a client UUID: the entry is first kept in localStorage, then sent in order;
 * while offline or on a failed request it stays there and is retried, and the page says per
 * entry "saved" or "not yet saved - will retry". The server stores each UUID once, so a retry of
 * an entry that did arrive is harmless. Without JavaScript the forms post and redirect as usual.
 * The queue belongs to the logged-in user (see KEY below); logging out clears it (signout.js).
 */
(function () {
  "use strict";

  var root = document.getElementById("infusion");
  if (!root || !window.fetch || !window.localStorage) {
    return;
  }
  // The queue is kept per user and session: an entry carries the user it was queued under
  // ("queued_by"), and the server refuses it from anyone else. signout.js clears it at log-out.
  var USER = root.getAttribute("data-user") || "";
  if (!USER) {
    return;
  }
  var KEY = "ketaflow.queue." + USER + "." + root.getAttribute("data-session");
  var RETRY_MS = 5000;
  var box = document.getElementById("pending");
  var list = document.getElementById("pending-list");
  var flash = document.getElementById("flash");
  var done = [];          // entries saved or refused during this page view (newest last)
  var live = {};          // UUIDs submitted from a form in this page view
  var busy = false;
  var timer = null;

  function load() {
    try {
      var q = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(q) ? q : [];
    } catch (e) {
      return [];
    }
  }

  function store(queue) {
    window.localStorage.setItem(KEY, JSON.stringify(queue));
  }

  function uuid4() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function field(pairs, name) {
    for (var i = 0; i < pairs.length; i += 1) {
      if (pairs[i][0] === name) {
        return pairs[i][1];
      }
    }
    return "";
  }

  function describe(kind, pairs) {
    var at = new Date(field(pairs, "entered_at") || Date.now());
    var time = at.toTimeString().slice(0, 5);
    if (kind === "vitals") {
      return "Vitals " + field(pairs, "systolic_mmhg") + "/" + field(pairs, "diastolic_mmhg") +
        ", HR " + field(pairs, "heart_rate_bpm") + ", SpO2 " + field(pairs, "spo2_percent") +
        " at " + time;
    }
    if (kind === "event") {
      var rate = field(pairs, "rate_ml_per_h");
      return field(pairs, "kind").replace("_", " ") + (rate ? " " + rate + " mL/h" : "") +
        " at " + time;
    }
    return kind + " " + field(pairs, "kind") + " at " + time;
  }

  function render() {
    var queue = load();
    var items = done.slice(-3).concat(queue);
    list.textContent = "";
    items.forEach(function (entry) {
      var li = document.createElement("li");
      li.setAttribute("data-entry", entry.id);
      var state = document.createElement("span");
      if (entry.state === "saved") {
        state.className = "saved";
        state.textContent = "saved";
      } else if (entry.state === "refused") {
        state.className = "refused";
        // The refusal itself is in the message line once; the queue only says it was refused.
        state.textContent = "not saved";
        state.title = entry.message;
      } else if (entry.state === "sending") {
        state.className = "waiting";
        state.textContent = "sending…";
      } else {
        state.className = "waiting";
        state.textContent = "not yet saved — will retry" + (entry.message ? " (" + entry.message + ")" : "");
      }
      li.appendChild(document.createTextNode(entry.label + ": "));
      li.appendChild(state);
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }

  // A confirmation takes the colour of the tier the server reports (an EMERGENCY is never green).
  function say(text, bad, tier) {
    if (flash) {
      flash.textContent = text;
      flash.className = "flash " + (tier ? "tier-" + tier : (bad ? "bad" : "ok"));
    }
  }

  function post(url, pairs) {
    var body = new URLSearchParams();
    pairs.forEach(function (p) {
      body.append(p[0], p[1]);
    });
    body.append("csrfmiddlewaretoken", csrf());
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-KetaFlow-Fragment": "1", "X-CSRFToken": csrf() }
    }).then(function (response) {
      if (!response.redirected) {  // an answer of the logged-in session (not the login page)
        document.dispatchEvent(new CustomEvent("ketaflow:server-contact"));
      }
      return response.json().then(function (json) {
        return { status: response.status, json: json };
      }, function () {
        return { status: response.status, json: null };
      });
    });
  }

  // What someone is typing in a form of ``target`` (every field, the hidden version too, so a
  // form opened at an older version is still refused as stale), to put back after the card is
  // replaced by the server's state.
  function typed(target) {
    var active = document.activeElement;
    if (!active || !target.contains(active) || !active.form ||
        !/^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return null;
    }
    var values = [];
    Array.prototype.forEach.call(active.form.elements, function (el) {
      if (el.name && el.name !== "csrfmiddlewaretoken") {
        values.push({ name: el.name, value: el.value, checked: el.checked, box: el.type === "checkbox" || el.type === "radio" });
      }
    });
    return { action: active.form.getAttribute("action"), focus: active.name, values: values };
  }

  function retype(target, kept) {
    var form = null;
    Array.prototype.forEach.call(target.querySelectorAll("form"), function (f) {
      if (f.getAttribute("action") === kept.action) {
        form = f;
      }
    });
    if (!form) {
      return;
    }
    kept.values.forEach(function (v) {
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name !== v.name) {
          return;
        }
        if (v.box) {
          if (el.value === v.value) {
            el.checked = v.checked;
          }
        } else {
          el.value = v.value;
        }
      });
    });
    var focus = form.elements.namedItem(kept.focus);
    if (focus && focus.focus) {
      focus.focus();
    }
  }

  // Every card is replaced by the server's state from one response (one read, one clock), so
  // no card can contradict another; what someone is typing is kept.
  function apply(fragments) {
    Object.keys(fragments || {}).forEach(function (name) {
      var target = document.getElementById("frag-" + name);
      if (!target) {
        return;
      }
      var kept = typed(target);
      target.innerHTML = fragments[name];
      if (kept) {
        retype(target, kept);
      }
    });
    clocks();
  }

  function scheduleRetry() {
    if (timer === null) {
      timer = window.setTimeout(function () {
        timer = null;
        flush();
      }, RETRY_MS);
    }
  }

  function finish(entry, state, message) {
    var queue = load().filter(function (e) {
      return e.id !== entry.id;
    });
    store(queue);
    entry.state = state;
    entry.message = message || "";
    done.push(entry);
  }

  function flush() {
    if (busy) {
      return;
    }
    var queue = load();
    if (queue.length === 0) {
      render();
      return;
    }
    var entry = queue[0];
    entry.state = "sending";
    store(queue);
    render();
    busy = true;
    post(entry.url, entry.fields).then(function (result) {
      busy = false;
      var json = result.json;
      if (json && json.ok) {
        finish(entry, "saved");
        apply(json.fragments);
        say(json.message, false, json.tier);
        flush();
      } else if (json && result.status === 400) {
        finish(entry, "refused", json.message);
        if (live[entry.id]) {
          apply(json.fragments);
        }
        say(json.message, true);
        flush();
      } else {
        wait(entry, result.status === 403 ? "log in again if this persists" : "server " + result.status);
      }
    }, function () {
      busy = false;
      wait(entry, window.navigator.onLine ? "no answer" : "offline");
    });
  }

  function wait(entry, message) {
    var queue = load();
    queue.forEach(function (e) {
      if (e.id === entry.id) {
        e.state = "waiting";
        e.message = message;
      }
    });
    store(queue);
    render();
    scheduleRetry();
  }

  function formPairs(form) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") {
        pairs.push([name, String(value)]);
      }
    });
    return pairs;
  }

  function queueForm(form) {
    var entered = form.querySelector("input[name=entered_at]");
    if (entered && !entered.value) {
      entered.value = new Date().toISOString();
    }
    var uuidInput = form.querySelector("input[name=client_uuid]");
    var pairs = formPairs(form);
    var id = uuidInput && uuidInput.value ? uuidInput.value : uuid4();
    if (!uuidInput || !uuidInput.value) {
      pairs.push(["client_uuid", id]);
    }
    pairs.push(["queued_by", USER]);
    var queue = load();
    if (!queue.some(function (e) { return e.id === id; })) {
      queue.push({
        id: id,
        url: form.action,
        fields: pairs,
        label: describe(form.getAttribute("data-queue"), pairs),
        state: "waiting",
        message: ""
      });
      store(queue);
    }
    live[id] = true;
    // The entry is safe in this tablet's storage: clear the form for the next one.
    form.reset();
    if (uuidInput) {
      uuidInput.value = uuid4();
    }
    if (entered) {
      entered.value = "";
    }
    flush();
  }

  function sendForm(form) {
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
    }
    post(form.action, formPairs(form)).then(function (result) {
      if (button) {
        button.disabled = false;
      }
      if (result.json) {
        apply(result.json.fragments);
        say(result.json.message, !result.json.ok, result.json.tier);
      } else {
        say("Not saved (server " + result.status + "); try again.", true);
      }
    }, function () {
      if (button) {
        button.disabled = false;
      }
      say("Not saved: no connection. Your entry is still in the form; try again.", true);
    });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-ajax")) {
      return;
    }
    event.preventDefault();
    if (form.hasAttribute("data-queue")) {
      queueForm(form);
    } else {
      sendForm(form);
    }
  });

  // ---- the chair's clocks: the server decides what is due; the page counts down to it and,
  // when a due time or the bag's end passes, asks the server for every card again.
  var skew = 0;          // server clock minus this tablet's clock, from the page's data-now
  var tick = null;
  var refreshAt = null;
  var refreshing = false;

  function refresh() {
    if (refreshing) {
      return;
    }
    refreshing = true;
    fetch(root.getAttribute("data-url"), {
      credentials: "same-origin",
      headers: { "X-KetaFlow-Fragment": "1" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (json) {
      refreshing = false;
      if (json && json.fragments) {
        apply(json.fragments);
      }
    }, function () {
      refreshing = false;
    });
  }

  function clocks() {
    var due = document.getElementById("vitals-due");
    var end = document.getElementById("bag-left");
    if (due && due.getAttribute("data-now")) {
      skew = Date.parse(due.getAttribute("data-now")) - Date.now();
    }
    var next = [];
    if (due && due.getAttribute("data-due")) {
      next.push(Date.parse(due.getAttribute("data-due")));
    }
    if (end && end.getAttribute("data-end")) {
      next.push(Date.parse(end.getAttribute("data-end")));
    }
    var now = Date.now() + skew;
    next = next.filter(function (t) {
      return t > now;  // a time already past is shown as the server decided it
    });
    refreshAt = next.length ? Math.min.apply(null, next) : null;
    count();
    if (tick === null) {
      tick = window.setInterval(count, 15000);
    }
  }

  function count() {
    var now = Date.now() + skew;
    var due = document.getElementById("vitals-due");
    if (due && due.getAttribute("data-due")) {
      var minutes = (Date.parse(due.getAttribute("data-due")) - now) / 60000;
      var text = due.querySelector(".countdown");
      var overdue = minutes < 0;
      if (text) {
        text.textContent = overdue ? "(overdue by " + Math.floor(-minutes) + " min)" : "(in " + Math.ceil(minutes) + " min)";
      }
      due.classList.toggle("is-overdue", overdue);
    }
    if (refreshAt !== null && now >= refreshAt + 1000) {
      refreshAt = null;
      refresh();
    }
  }

  window.addEventListener("online", flush);
  clocks();
  // Entries left "sending" by a closed page are retried like any other.
  store(load().map(function (e) {
    e.state = "waiting";
    return e;
  }));
  render();
  flush();
}());
