// Progressive enhancement only; every page works without this file.
// Copy buttons: <button class="copy" data-copy-target="ELEMENT_ID" hidden> copies that element's text.
(function () {
  "use strict";

  function revealCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("button.copy[hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = button.dataset.copiedLabel || label;
      button.classList.add("copied");
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 1500);
    });
  });

  document.addEventListener("DOMContentLoaded", function () { revealCopyButtons(document); });
  document.addEventListener("htmx:load", function (event) { revealCopyButtons(event.detail.elt); });

  // An open workspace menu closes when the user clicks elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.switcher[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
