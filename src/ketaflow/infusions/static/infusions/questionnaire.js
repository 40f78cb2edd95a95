// Questionnaires at the chair: the keyboard (a digit, or y/n, answers the current item and
// moves on; up and down arrows move between items) and the live total. The flag comes from the
// server, which scores a complete answer with the same rule it records it by (nothing is saved).
(function () {
  "use strict";
  var form = document.getElementById("questionnaire");
  if (!form) { return; }
  var items = Array.prototype.slice.call(form.querySelectorAll("fieldset.q-item"));
  var totalBox = document.getElementById("q-total");
  var totalValue = document.getElementById("q-total-value");
  var answered = document.getElementById("q-answered");
  var flagBox = document.getElementById("q-flag");
  document.getElementById("q-keys").hidden = false;
  totalBox.hidden = false;
  var pending = null;

  function checked(item) { return item.querySelector("input[type=radio]:checked"); }
  function valueOf(input) {
    if (input.value === "y") { return 1; }
    if (input.value === "n") { return 0; }
    return parseInt(input.value, 10) || 0;
  }
  function focusItem(index) {
    var item = items[Math.max(0, Math.min(items.length - 1, index))];
    var target = checked(item) || item.querySelector("input[type=radio]");
    if (target) { target.focus(); }
  }
  function indexOf(element) {
    var item = element.closest("fieldset.q-item");
    return items.indexOf(item);
  }
  function askFlag() {
    var body = new FormData(form);
    fetch(form.dataset.previewUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-KetaFlow-Preview": "1" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) { return; }
      if (data.complete) { totalValue.textContent = String(data.total); }
      flagBox.textContent = data.flag || "";
      flagBox.hidden = !data.flag;
    }).catch(function () { /* offline: the total still shows; the flag waits for saving */ });
  }
  function update() {
    var sum = 0, count = 0;
    items.forEach(function (item) {
      var input = checked(item);
      if (input) { sum += valueOf(input); count += 1; }
    });
    totalValue.textContent = String(sum);
    answered.textContent = String(count);
    if (count === items.length) {
      clearTimeout(pending);
      pending = setTimeout(askFlag, 150);
    } else {
      flagBox.hidden = true;
    }
  }
  form.addEventListener("change", update);
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || target.type !== "radio") { return; }
    var index = indexOf(target);
    if (index < 0) { return; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      focusItem(index + (event.key === "ArrowDown" ? 1 : -1));
      return;
    }
    var key = event.key.toLowerCase();
    var choice = items[index].querySelector("input[type=radio][value='" + key + "']");
    if (choice && key.length === 1) {
      event.preventDefault();
      choice.checked = true;
      update();
      if (index + 1 < items.length) { focusItem(index + 1); }
      else { form.querySelector("button[type=submit]").focus(); }
    }
  });
  update();
  if (!document.querySelector("#q-errors")) { focusItem(0); }
}());
