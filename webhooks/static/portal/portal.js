// Copy buttons: shown only when scripts run; without them the text stays visible and selectable.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    var status = button.parentNode.querySelector(".copied");
    if (!source) return;
    function say(text) {
      if (status) status.textContent = text;
    }
    function fallback() {
      // No asynchronous clipboard (an insecure origin, a denied permission): select and copy.
      selectText(source);
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
      say(copied ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(function () {
        say("Copied.");
      }, fallback);
    } else {
      fallback();
    }
  }

  function enable() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enable);
  } else {
    enable();
  }
})();
