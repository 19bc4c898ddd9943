// souk's pages work without this file; it adds what a page cannot do alone:
// following an order live, refreshing the operator's tables, and uploading
// a file with a progress bar. Plain JavaScript, no build step.
"use strict";

(function () {
  // An order page follows its order: when the state changes, reload it.
  // It long-polls: each request carries the last ETag and `Prefer: wait`,
  // so the server answers when the order changes (or with 304 after the
  // wait). A server that did not wait is asked again after a pause.
  function followOrder(section) {
    var url = section.getAttribute("data-live");
    var known = section.getAttribute("data-state");
    var etag = null;
    var failures = 0;
    function poll() {
      var headers = { Accept: "application/json" };
      if (etag) {
        headers["If-None-Match"] = etag;
        headers["Prefer"] = "wait=25";
      }
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
        .then(function (r) {
          var waited = r.headers.has("Preference-Applied");
          if (r.status === 304) return { waited: waited, doc: null };
          if (!r.ok) throw new Error("HTTP " + r.status);
          etag = r.headers.get("ETag");
          return r.json().then(function (doc) { return { waited: true, doc: doc }; });
        })
        .then(function (a) {
          failures = 0;
          if (a.doc && a.doc.key && a.doc.key !== known) {
            window.location.reload();
            return;
          }
          setTimeout(poll, etag && a.waited ? 0 : 3000);
        })
        .catch(function () {
          failures += 1;
          setTimeout(poll, Math.min(5000 * failures, 30000));
        });
    }
    setTimeout(poll, 0);
  }

  // A fragment refreshed every few seconds (the operator's live actors).
  function refresh(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-every") || "3000", 10);
    function tick() {
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) {
            el.innerHTML = html;
            var stamp = document.getElementById("refreshed-at");
            if (stamp) stamp.textContent = new Date().toLocaleTimeString();
          }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  }

  // A file upload straight to the API (PUT, streamed by souk), with progress.
  function upload(form) {
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = input.files && input.files[0];
      if (!file) {
        status.textContent = "Choose a file first.";
        input.focus();
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", form.getAttribute("data-upload") + "?name=" + encodeURIComponent(file.name));
      xhr.setRequestHeader("X-CSRF-Token", form.getAttribute("data-csrf"));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.max = e.total;
          bar.value = e.loaded;
          status.textContent = "Uploading… " + Math.round(100 * e.loaded / e.total) + "%";
        }
      });
      xhr.addEventListener("load", function () {
        button.disabled = false;
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = bar.max;
          status.textContent = "Uploaded " + file.name + ".";
          window.location.assign(form.getAttribute("data-done"));
        } else {
          var detail = "the upload failed (" + xhr.status + ")";
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
          status.textContent = "Not uploaded: " + detail;
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        status.textContent = "Not uploaded: the connection failed. Try again.";
      });
      button.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      status.textContent = "Uploading…";
      xhr.send(file);
    });
  }

  // Taking a file off a product (or a licence key out of its pool): DELETE
  // on the API, then the page again. A file a buyer has (an issued key)
  // stays, and the answer says why.
  function removeFile(form) {
    var status = form.querySelector("[data-remove-status]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!window.confirm(form.getAttribute("data-question"))) return;
      var xhr = new XMLHttpRequest();
      xhr.open("DELETE", form.getAttribute("data-remove"));
      xhr.setRequestHeader("X-CSRF-Token", form.getAttribute("data-csrf"));
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          window.location.assign(form.getAttribute("data-done"));
        } else {
          var detail = "it could not be removed (" + xhr.status + ")";
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
          status.textContent = (form.getAttribute("data-fail") || "Not removed") + ": " + detail;
        }
      });
      xhr.addEventListener("error", function () {
        status.textContent = "Not removed: the connection failed. Try again.";
      });
      xhr.send();
    });
  }

  // Licence keys, one per line, added through the API; then the page again.
  function addKeys(form) {
    var area = form.querySelector("textarea");
    var status = form.querySelector("[data-keys-status]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      // The keys, and the line of the box each came from (errors name
      // keys[i] of what was sent; people count lines).
      var keys = [], lines = [];
      area.value.split(/\r?\n/).forEach(function (k, i) {
        if (k.trim().length > 0) { keys.push(k.trim()); lines.push(i + 1); }
      });
      if (keys.length === 0) {
        status.textContent = "Write at least one key, one per line.";
        area.focus();
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-keys"));
      xhr.setRequestHeader("X-CSRF-Token", form.getAttribute("data-csrf"));
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.addEventListener("load", function () {
        button.disabled = false;
        if (xhr.status === 201) {
          window.location.assign(form.getAttribute("data-done"));
        } else if (xhr.status >= 200 && xhr.status < 300) {
          window.location.assign(form.getAttribute("data-none"));
        } else {
          var detail = "they could not be added (" + xhr.status + ")";
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
          detail = detail.replace(/keys\[(\d+)\]/, function (m, i) {
            return "the key on line " + lines[Number(i)];
          });
          status.textContent = "Not added: " + detail;
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        status.textContent = "Not added: the connection failed. Try again.";
      });
      button.disabled = true;
      status.textContent = "Adding " + keys.length + " key" + (keys.length === 1 ? "" : "s") + "…";
      var pool = form.querySelector("select[name=pool]");
      var body = { keys: keys };
      if (pool) body.pool = pool.value;
      xhr.send(JSON.stringify(body));
    });
  }

  // After a download starts, refresh the page so the counts are current.
  function afterDownload(form) {
    form.addEventListener("submit", function () {
      setTimeout(function () { window.location.reload(); }, 2500);
    });
  }

  // Buttons that need a second thought.
  function confirmFirst(form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(followOrder);
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("form[data-upload]").forEach(upload);
    document.querySelectorAll("form[data-remove]").forEach(removeFile);
    document.querySelectorAll("form[data-keys]").forEach(addKeys);
    document.querySelectorAll("form[data-download]").forEach(afterDownload);
    document.querySelectorAll("form[data-confirm]").forEach(confirmFirst);
  });
})();
