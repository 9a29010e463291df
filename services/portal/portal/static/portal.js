// Progressive enhancement of the post form: drop files on it, see what is attached and how the
// upload goes. Without this script the same form posts the same files.
(function () {
  "use strict";
  var MAX_FILES = 10;
  var MAX_BYTES = 15 * 1024 * 1024;

  function kb(size) {
    return (size / 1024).toFixed(1) + " KB";
  }

  function refusal(files) {
    if (files.length > MAX_FILES) {
      return files.length + " files chosen: up to " + MAX_FILES + " can be attached at the same time";
    }
    var large = Array.prototype.filter.call(files, function (f) { return f.size > MAX_BYTES; });
    if (large.length) {
      return large.map(function (f) { return f.name; }).join(", ") + ": over the 15 MB limit per file";
    }
    return "";
  }

  function show(zone, input) {
    var list = zone.querySelector(".chosen");
    var status = zone.querySelector("[role=status]");
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + kb(file.size) + ")";
      list.appendChild(item);
    });
    var problem = refusal(input.files);
    status.textContent = problem || (input.files.length ? input.files.length + " file(s) ready" : "");
    status.classList.toggle("error", Boolean(problem));
    return !problem;
  }

  function replacePage(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    document.title = page.title;
    document.body.replaceWith(page.body);
    Array.prototype.forEach.call(document.querySelectorAll("[data-drop-for]"), wire);
    if (window.htmx) {
      window.htmx.process(document.body);
    }
  }

  function wire(zone) {
    var input = document.getElementById(zone.getAttribute("data-drop-for"));
    var form = zone.closest("form");
    var progress = zone.querySelector("progress");
    input.addEventListener("change", function () { show(zone, input); });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      var all = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { all.items.add(f); });
      Array.prototype.forEach.call(event.dataTransfer.files, function (f) { all.items.add(f); });
      input.files = all.files;
      show(zone, input);
    });
    form.addEventListener("submit", function (event) {
      if (!show(zone, input)) {
        event.preventDefault();
        return;
      }
      if (!input.files.length) {
        return; // nothing to upload: a plain post
      }
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      progress.hidden = false;
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          progress.value = Math.round((e.loaded / e.total) * 100);
          progress.textContent = progress.value + "%";
        }
      });
      request.addEventListener("load", function () {
        if (request.status === 200 && request.responseURL) {
          window.location.assign(request.responseURL); // the redirect after the post
        } else {
          replacePage(request.responseText); // the page with the refusal
        }
      });
      request.send(new FormData(form));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-drop-for]"), wire);
  });
})();
