// The review screen: a photo viewer (one photo or two side by side; zoom, pan, rotate,
// brightness and contrast, all by keyboard too), the reason picker's number keys, the
// confirmation of risky decisions (the server requires it; this only asks for it), and the
// claim's countdown, renewed while the reviewer works.
(function () {
  "use strict";

  var viewer = document.getElementById("viewer");
  var decision = document.getElementById("decision-form");
  var next = document.getElementById("claim-next-form");

  function typing(target) {
    return target && target.closest && target.closest("textarea, input[type=text], input[type=search], select, [contenteditable]");
  }

  // --- photo loading ---------------------------------------------------------------------
  // One photo request at a time, the one on show first, each tried again after a moment if
  // it fails: every request is a permission-checked, logged view, and a busy server answers
  // 503 "try again" rather than make the reviewer reload the page.
  var loadQueue = [];
  var loading = false;

  function loadNext() {
    if (loading || !loadQueue.length) return;
    loading = true;
    var job = loadQueue.shift();
    var done = function (failed) {
      job.img.removeEventListener("load", onLoad);
      job.img.removeEventListener("error", onError);
      loading = false;
      if (failed && job.tries < 3 && job.img.dataset.wanted === job.src) {
        job.tries += 1;
        setTimeout(function () { loadQueue.unshift(job); loadNext(); }, 400 * job.tries);
      } else {
        loadNext();
      }
    };
    var onLoad = function () { done(false); };
    var onError = function () { done(true); };
    if (job.img.dataset.wanted !== job.src) { loading = false; loadNext(); return; }
    job.img.addEventListener("load", onLoad);
    job.img.addEventListener("error", onError);
    job.img.removeAttribute("src");
    job.img.src = job.src;
  }

  function load(img, src, first) {
    img.dataset.wanted = src;
    var job = { img: img, src: src, tries: 0 };
    if (first) loadQueue.unshift(job); else loadQueue.push(job);
    loadNext();
  }

  // --- viewer ---------------------------------------------------------------------------
  var panes = {};
  var active = "a";
  var thumbs = viewer ? Array.prototype.slice.call(viewer.ownerDocument.querySelectorAll("[data-viewer-photo]")) : [];

  function freshState() {
    return { zoom: 1, x: 0, y: 0, rotation: 0, brightness: 1, contrast: 1 };
  }

  function apply(side) {
    var pane = panes[side];
    var img = pane.img;
    var state = pane.state;
    img.style.filter = "brightness(" + state.brightness + ") contrast(" + state.contrast + ")";
    if (!img.naturalWidth) return;
    var width = img.naturalWidth;
    var height = img.naturalHeight;
    var quarter = ((state.rotation % 360) + 360) % 180 === 90;
    var boxWidth = quarter ? height : width;
    var boxHeight = quarter ? width : height;
    // Fit the rotated photo's bounding box in the pane: rotating never clips it.
    var fit = Math.min(pane.element.clientWidth / boxWidth, pane.element.clientHeight / boxHeight);
    var scale = fit * state.zoom;
    img.style.width = width + "px";
    img.style.height = height + "px";
    img.style.transform =
      "translate(" + state.x + "px, " + state.y + "px) rotate(" + state.rotation + "deg) scale(" + scale + ") " +
      "translate(" + (-width / 2) + "px, " + (-height / 2) + "px)";
  }

  function markShown() {
    thumbs.forEach(function (thumb) {
      var shown = Object.keys(panes).some(function (side) {
        return panes[side].photo === thumb && (side === "a" || viewer.classList.contains("is-split"));
      });
      thumb.classList.toggle("is-shown", shown);
    });
  }

  function show(side, thumb) {
    if (!thumb || !panes[side]) return;
    var pane = panes[side];
    pane.photo = thumb;
    pane.state = freshState();
    pane.caption.textContent = thumb.dataset.label || "";
    pane.element.dataset.shows = thumb.dataset.viewerPhoto;
    if (pane.img.dataset.wanted !== thumb.dataset.src) {
      pane.img.removeAttribute("style");
      load(pane.img, thumb.dataset.src, true); // loaded (and logged as seen) only when shown
    }
    apply(side);
    markShown();
  }

  function setActive(side) {
    active = side;
    Object.keys(panes).forEach(function (key) {
      panes[key].element.classList.toggle("is-active", key === side);
    });
  }

  function setSplit(split) {
    viewer.classList.toggle("is-split", split);
    if (!split) setActive("a");
    Object.keys(panes).forEach(apply);
    markShown();
  }

  function find(selector) {
    return viewer.ownerDocument.querySelector(selector);
  }

  function thisAttempt(kind) {
    return find('[data-viewer-photo="this-' + kind + '"]');
  }

  function compare(left, right) {
    if (!left || !right) return;
    setSplit(true);
    show("a", left);
    show("b", right);
    setActive("b");
  }

  function kindShown() {
    var photo = panes[active].photo;
    return photo ? photo.dataset.kind : "id_front";
  }

  var actions = {
    single: function () { setSplit(false); },
    split: function () {
      setSplit(!viewer.classList.contains("is-split"));
      if (viewer.classList.contains("is-split") && !panes.b.photo) show("b", thisAttempt("id_handheld") || thumbs[1]);
    },
    faces: function () { compare(thisAttempt("id_front"), thisAttempt("id_handheld")); },
    earlier: function () {
      var kind = kindShown();
      compare(thisAttempt(kind), find('[data-group="earlier-latest"][data-kind="' + kind + '"]'));
    },
    "zoom-in": function () { zoomBy(1.25); },
    "zoom-out": function () { zoomBy(0.8); },
    "rotate-left": function () { panes[active].state.rotation -= 90; apply(active); },
    "rotate-right": function () { panes[active].state.rotation += 90; apply(active); },
    reset: function () { panes[active].state = freshState(); apply(active); },
    "brightness-up": function () { adjust("brightness", 0.15); },
    "brightness-down": function () { adjust("brightness", -0.15); },
    "contrast-up": function () { adjust("contrast", 0.15); },
    "contrast-down": function () { adjust("contrast", -0.15); },
    help: function () {
      var help = document.getElementById("viewer-help");
      help.hidden = !help.hidden;
      var button = viewer.querySelector('[data-viewer-action="help"]');
      if (button) button.setAttribute("aria-expanded", String(!help.hidden));
    },
    "other-pane": function () { if (viewer.classList.contains("is-split")) setActive(active === "a" ? "b" : "a"); },
    "next-photo": function () { step(1); },
    "previous-photo": function () { step(-1); },
  };

  function adjust(property, delta) {
    var state = panes[active].state;
    state[property] = Math.min(3, Math.max(0.2, Math.round((state[property] + delta) * 100) / 100));
    apply(active);
  }

  function zoomBy(factor, originX, originY) {
    var state = panes[active].state;
    var zoom = Math.min(12, Math.max(0.5, state.zoom * factor));
    var applied = zoom / state.zoom;
    // Keep the point under the pointer where it is (the pane's centre for keys and buttons).
    originX = originX || 0;
    originY = originY || 0;
    state.x = originX - (originX - state.x) * applied;
    state.y = originY - (originY - state.y) * applied;
    state.zoom = zoom;
    apply(active);
  }

  function step(direction) {
    if (!thumbs.length) return;
    var index = thumbs.indexOf(panes[active].photo);
    show(active, thumbs[(index + direction + thumbs.length) % thumbs.length]);
  }

  function pan(dx, dy) {
    panes[active].state.x += dx;
    panes[active].state.y += dy;
    apply(active);
  }

  if (viewer) {
    viewer.querySelectorAll("[data-viewer-pane]").forEach(function (element) {
      var side = element.dataset.viewerPane;
      var pane = {
        element: element,
        img: element.querySelector("[data-viewer-image]"),
        caption: element.querySelector("[data-viewer-caption]"),
        state: freshState(),
        photo: null,
      };
      panes[side] = pane;
      pane.img.addEventListener("load", function () { apply(side); });
      element.addEventListener("pointerdown", function (event) {
        setActive(side);
        if (event.button !== 0) return;
        var start = { x: event.clientX, y: event.clientY, panX: pane.state.x, panY: pane.state.y };
        element.setPointerCapture(event.pointerId);
        element.classList.add("is-dragging");
        function move(moveEvent) {
          pane.state.x = start.panX + moveEvent.clientX - start.x;
          pane.state.y = start.panY + moveEvent.clientY - start.y;
          apply(side);
        }
        function end() {
          element.classList.remove("is-dragging");
          element.removeEventListener("pointermove", move);
          element.removeEventListener("pointerup", end);
          element.removeEventListener("pointercancel", end);
        }
        element.addEventListener("pointermove", move);
        element.addEventListener("pointerup", end);
        element.addEventListener("pointercancel", end);
      });
      element.addEventListener("wheel", function (event) {
        event.preventDefault();
        setActive(side);
        var box = element.getBoundingClientRect();
        var x = event.clientX - box.left - box.width / 2;
        var y = event.clientY - box.top - box.height / 2;
        zoomBy(event.deltaY < 0 ? 1.15 : 1 / 1.15, x, y);
      }, { passive: false });
    });
    viewer.querySelectorAll("[data-viewer-action]").forEach(function (button) {
      button.addEventListener("click", function () { actions[button.dataset.viewerAction](); });
    });
    thumbs.forEach(function (thumb) {
      thumb.addEventListener("click", function () {
        if (thumb.dataset.group === "other") {
          // Another account's photo: beside this submission's photo of the same kind.
          compare(thisAttempt(thumb.dataset.kind) || thumbs[0], thumb);
          return;
        }
        show(active, thumb);
      });
    });
    window.addEventListener("resize", function () { Object.keys(panes).forEach(apply); });
    show("a", thisAttempt("id_front") || thumbs[0]);
    panes.b.photo = null;
    markShown();
  }
  document.querySelectorAll("img[data-lazy-src]").forEach(function (img) { load(img, img.dataset.lazySrc); });

  var viewerKeys = {
    s: "split", f: "faces", e: "earlier", x: "other-pane", j: "next-photo", k: "previous-photo",
    "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "[": "rotate-left", "]": "rotate-right", z: "reset",
    b: "brightness-up", B: "brightness-down", c: "contrast-up", C: "contrast-down", "?": "help",
  };
  var panKeys = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };

  // --- decision -------------------------------------------------------------------------
  var dialog = document.getElementById("confirm-dialog");
  var reasonBoxes = decision ? Array.prototype.slice.call(decision.querySelectorAll("input[name=reason_codes]")) : [];
  var numberBuffer = "";
  var numberTimer = null;

  function choose(value) {
    var radio = decision && decision.querySelector("input[name=decision][value=" + value + "]");
    if (radio) radio.checked = true;
    return radio;
  }

  function tickReason(number) {
    var box = reasonBoxes.filter(function (input) { return input.dataset.number === String(number); })[0];
    if (!box) return;
    box.checked = !box.checked;
    if (box.checked) choose("reject");
    box.focus();
  }

  function typedNumber(digit) {
    clearTimeout(numberTimer);
    numberBuffer += digit;
    var number = parseInt(numberBuffer, 10);
    // Ten reasons or more: "1" may be the start of "12"; wait a moment unless it cannot be.
    if (number * 10 > reasonBoxes.length) {
      numberBuffer = "";
      tickReason(number);
    } else {
      numberTimer = setTimeout(function () { numberBuffer = ""; tickReason(number); }, 700);
    }
  }

  function requiredConfirmations() {
    var chosen = decision.querySelector("input[name=decision]:checked");
    if (!chosen) return [];
    if (chosen.value === "approve") {
      return (decision.dataset.flags || "").split(" ").filter(Boolean);
    }
    return reasonBoxes
      .filter(function (input) { return input.checked && input.dataset.final === "1"; })
      .map(function (input) { return input.dataset.confirmValue; });
  }

  function prepareDialog(required) {
    var items = dialog.querySelectorAll("[data-confirm-item]");
    var button = dialog.querySelector("[data-testid=confirm-decision]");
    var allChecked = true;
    items.forEach(function (item) {
      var needed = required.indexOf(item.dataset.confirmItem) !== -1;
      var box = item.querySelector("input");
      item.hidden = !needed;
      if (!needed) box.checked = false;
      if (needed && !box.checked) allChecked = false;
    });
    button.disabled = !allChecked;
    return allChecked;
  }

  if (decision && dialog) {
    decision.addEventListener("submit", function (event) {
      var required = requiredConfirmations().filter(function (value) {
        return dialog.querySelector('[data-confirm-item="' + value + '"]');
      });
      if (!required.length || prepareDialog(required)) return;
      event.preventDefault();
      if (!dialog.open) dialog.showModal();
      var first = dialog.querySelector("[data-confirm-item]:not([hidden]) input:not(:checked)");
      if (first) first.focus();
    });
    dialog.addEventListener("change", function () {
      prepareDialog(requiredConfirmations());
    });
    dialog.querySelector("[data-confirm-cancel]").addEventListener("click", function () { dialog.close(); });
    if (dialog.open) {
      // The server asked for a confirmation: the same dialog, modal.
      dialog.close();
      prepareDialog(requiredConfirmations());
      dialog.showModal();
    }
  }

  if (decision) {
    var message = decision.querySelector("textarea[name=customer_message]");
    decision.querySelectorAll("[data-message-template]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = button.dataset.messageTemplate;
        var start = message.selectionStart;
        var before = message.value.slice(0, start);
        var separator = before && !/\s$/.test(before) ? "\n" : "";
        message.value = before + separator + text + message.value.slice(message.selectionEnd);
        message.focus();
        var caret = (before + separator + text).length;
        message.setSelectionRange(caret, caret);
      });
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (dialog && dialog.open) return;
    var key = event.key;
    if (viewer && viewerKeys[key]) {
      event.preventDefault();
      actions[viewerKeys[key]]();
      return;
    }
    if (viewer && panKeys[key] && !(event.target.closest && event.target.closest("input, button"))) {
      event.preventDefault();
      pan(panKeys[key][0], panKeys[key][1]);
      return;
    }
    var lower = key.toLowerCase();
    if (lower === "n" && next) { event.preventDefault(); next.submit(); return; }
    if (!decision) return;
    if (/^[0-9]$/.test(key) && reasonBoxes.length) {
      event.preventDefault();
      typedNumber(key);
    } else if (lower === "a" && choose("approve")) {
      event.preventDefault();
      decision.requestSubmit();
    } else if (lower === "r" && choose("reject")) {
      event.preventDefault();
      if (reasonBoxes[0]) reasonBoxes[0].focus();
    }
  });

  // --- the claim ------------------------------------------------------------------------
  var countdown = document.getElementById("claim-countdown");
  if (countdown) {
    var value = countdown.querySelector("[data-countdown-value]");
    var deadline = Date.now() + parseInt(countdown.dataset.secondsLeft, 10) * 1000;
    var lastActivity = Date.now();
    var lastRenewal = Date.now();
    var renewing = false;
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");

    ["keydown", "pointerdown", "wheel", "input"].forEach(function (name) {
      document.addEventListener(name, function () { lastActivity = Date.now(); }, { passive: true });
    });

    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      value.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      countdown.classList.toggle("is-low", left > 0 && left < 120);
      if (left === 0 && !countdown.classList.contains("is-expired")) {
        countdown.classList.add("is-expired");
        countdown.textContent = countdown.dataset.expiredText;
      }
    };

    var renew = function () {
      if (renewing || !token) return;
      renewing = true;
      fetch(countdown.dataset.renewUrl, {
        method: "POST",
        headers: { "X-CSRFToken": token.value, "X-Requested-With": "fetch" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.ok) {
            deadline = Date.now() + answer.seconds_left * 1000;
            lastRenewal = Date.now();
          } else {
            deadline = Date.now();
            countdown.dataset.expiredText = answer.error;
          }
        })
        .catch(function () { /* offline for a moment: the next tick tries again */ })
        .then(function () { renewing = false; tick(); });
    };

    tick();
    setInterval(tick, 1000);
    // Renew at most every two minutes, and only for someone who is working on the screen.
    setInterval(function () {
      if (countdown.classList.contains("is-expired")) return;
      if (lastActivity > lastRenewal && Date.now() - lastRenewal > 120000) renew();
    }, 15000);
  }
})();
