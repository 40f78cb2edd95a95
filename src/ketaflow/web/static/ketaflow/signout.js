/* KetaFlow: what this browser keeps leaves with the person who kept it.
 *
 * The infusion page's offline queue (session.js) keeps entries in localStorage under
 * "ketaflow.queue.<user>.<session>". Logging out, and the automatic log-off after the idle
 * time (KETAFLOW_SESSION_IDLE_SECONDS; the server's session outlives it by at most a minute), clear every KetaFlow key of
 * localStorage, sessionStorage and the Cache Storage, after warning when entries are still
 * unsent, so that the next person on a shared tablet sees and sends nothing of the last one's.
 * A page without a logged-in user (the login page) clears what an earlier user left.
 */
(function () {
  "use strict";

  var body = document.body;
  var user = body.getAttribute("data-user") || "";
  var idleSeconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var loginUrl = body.getAttribute("data-login-url") || "/login/";
  var PREFIX = "ketaflow.";
  var QUEUE = "ketaflow.queue.";
  var LEGACY = /^ketaflow\.infusion\..*\.queue$/;  // keyed by session only, before per-user keys

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function unsent() {
    var store = storage();
    var count = 0;
    if (!store) {
      return 0;
    }
    for (var i = 0; i < store.length; i += 1) {
      var key = store.key(i) || "";
      if (key.indexOf(QUEUE) === 0 || LEGACY.test(key)) {
        try {
          var queue = JSON.parse(store.getItem(key) || "[]");
          count += Array.isArray(queue) ? queue.length : 0;
        } catch (e) {
          count += 1;
        }
      }
    }
    return count;
  }

  function clearAll() {
    var store = storage();
    if (store) {
      var keys = [];
      for (var i = 0; i < store.length; i += 1) {
        keys.push(store.key(i) || "");
      }
      keys.forEach(function (key) {
        if (key.indexOf(PREFIX) === 0) {
          store.removeItem(key);
        }
      });
    }
    try {
      window.sessionStorage.clear();
    } catch (e) { /* storage blocked: nothing kept */ }
    if (window.caches && window.caches.keys) {
      return window.caches.keys().then(function (names) {
        return Promise.all(names.map(function (name) {
          return window.caches.delete(name);
        }));
      }).catch(function () { return null; });
    }
    return Promise.resolve(null);
  }

  function warningText(count) {
    return count + " entr" + (count === 1 ? "y" : "ies") +
      " on this tablet " + (count === 1 ? "is" : "are") + " not yet saved to the server.";
  }

  if (!user) {
    clearAll();  // nobody is logged in: nothing of the last user stays in this browser
    return;
  }

  // Logging out: warn about unsent entries, then clear, then log out.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-logout")) {
      return;
    }
    if (form.getAttribute("data-cleared") === "1") {
      return;
    }
    event.preventDefault();
    var count = unsent();
    if (count > 0 && !window.confirm(warningText(count) +
        " Logging out deletes them from this tablet; the next person to log in cannot send them." +
        " Log out anyway?")) {
      return;
    }
    clearAll().then(function () {
      form.setAttribute("data-cleared", "1");
      form.submit();
    });
  }, true);

  if (!(idleSeconds > 0)) {
    return;
  }

  // The automatic log-off, idleSeconds after the last request (the server ends the session no
  // earlier, and at most a minute later).
  // Warn a minute before (or at 80% of a short idle time), then clear and go to the login page.
  var warnAfter = Math.max(idleSeconds - 60, Math.floor(idleSeconds * 0.8));
  var warnTimer = null;
  var offTimer = null;
  var box = null;

  function warn() {
    if (!box) {
      box = document.createElement("aside");
      box.id = "idle-warning";
      box.className = "idle-warning";
      box.setAttribute("role", "alert");
      // In the infusion page's sticky bar (always in view), else at the top of the page.
      var main = document.querySelector(".sticky-top") || document.querySelector("main") || body;
      main.insertBefore(box, main.firstChild);
    }
    var count = unsent();
    box.textContent = "You will be logged off in " + (idleSeconds - warnAfter) +
      " seconds for inactivity; save something or open a page to stay logged in." +
      (count > 0 ? " " + warningText(count) + " They are deleted at log-off." : "");
    box.hidden = false;
  }

  function logOff() {
    clearAll().then(function () {
      var next = window.location.pathname + window.location.search;
      window.location.assign(loginUrl + "?idle=1&next=" + encodeURIComponent(next));
    });
  }

  function restart() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(offTimer);
    if (box) {
      box.hidden = true;
    }
    warnTimer = window.setTimeout(warn, warnAfter * 1000);
    offTimer = window.setTimeout(logOff, idleSeconds * 1000);
  }

  // session.js reports each answer from the server (each one restarts the server's idle time).
  document.addEventListener("ketaflow:server-contact", restart);
  restart();
}());
