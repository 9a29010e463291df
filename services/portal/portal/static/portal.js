// Progressive enhancement of the post form: formatting buttons that write the box's light
// markup, files dropped on the form, each file's own check and upload progress. Without this
// script the same form posts the same text and files.
(function () {
  "use strict";
  var MAX_FILES = 10;
  var MAX_BYTES = 15 * 1024 * 1024;

  function kb(size) {
    return (size / 1024).toFixed(1) + " KB";
  }

  // Why one file cannot be sent ("" when it can): the 11th file on, or a file over 15 MB.
  function refusalOf(file, index) {
    if (index >= MAX_FILES) {
      return "refused: only " + MAX_FILES + " files can be attached to one post";
    }
    if (file.size > MAX_BYTES) {
      return "refused: over the 15 MB limit per file";
    }
    return "";
  }

  // The form's own line, in the words the portal uses when it refuses without this script.
  function summary(files, refused) {
    if (files.length > MAX_FILES) {
      return files.length + " files chosen: up to " + MAX_FILES + " can be attached at the same time";
    }
    if (refused) {
      var large = Array.prototype.filter.call(files, function (f) { return f.size > MAX_BYTES; });
      return large.map(function (f) { return f.name; }).join(", ") + ": over the 15 MB limit per file";
    }
    return files.length ? files.length + " file(s) ready" : "";
  }

  function show(zone, input) {
    var list = zone.querySelector(".chosen");
    var status = zone.querySelector("[role=status]");
    var refused = 0;
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      var problem = refusalOf(file, index);
      name.textContent = file.name + " (" + kb(file.size) + ")";
      item.appendChild(name);
      if (problem) {
        refused += 1;
        var why = document.createElement("span");
        why.className = "refused";
        why.textContent = " " + problem;
        item.appendChild(why);
      } else {
        var bar = document.createElement("progress");
        bar.max = 100;
        bar.value = 0;
        bar.hidden = true;
        bar.setAttribute("aria-label", "Upload of " + file.name);
        item.appendChild(bar);
      }
      list.appendChild(item);
    });
    status.textContent = summary(input.files, refused);
    status.classList.toggle("error", Boolean(refused));
    return !refused;
  }

  // Each file's share of the bytes sent so far: the files go in the body in their order.
  function trackFiles(zone, input, loaded, total) {
    var bars = zone.querySelectorAll(".chosen progress");
    var sizes = Array.prototype.map.call(input.files, function (f) { return f.size; });
    var all = sizes.reduce(function (a, b) { return a + b; }, 0);
    var sent = total ? (loaded / total) * all : 0;
    var start = 0;
    Array.prototype.forEach.call(bars, function (bar, index) {
      var size = sizes[index] || 1;
      var done = Math.max(0, Math.min(1, (sent - start) / size));
      bar.hidden = false;
      bar.value = Math.round(done * 100);
      bar.textContent = bar.value + "%";
      start += sizes[index] || 0;
    });
  }

  function replacePage(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    document.title = page.title;
    document.body.replaceWith(page.body);
    enhance();
    if (window.htmx) {
      window.htmx.process(document.body);
    }
  }

  function upload(zone, input, form) {
    var request = new XMLHttpRequest();
    var status = zone.querySelector("[role=status]");
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        trackFiles(zone, input, e.loaded, e.total);
      }
    });
    request.upload.addEventListener("load", function () {
      trackFiles(zone, input, 1, 1);
      status.textContent = "Uploaded; sharing the post…";
    });
    request.addEventListener("load", function () {
      if (request.status === 200 && request.responseURL) {
        window.location.assign(request.responseURL); // the redirect after the post
      } else {
        replacePage(request.responseText); // the page with the refusal
      }
    });
    request.send(new FormData(form));
  }

  function wire(zone) {
    var input = document.getElementById(zone.getAttribute("data-drop-for"));
    var form = zone.closest("form");
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
      upload(zone, input, form);
    });
  }

  // --- formatting buttons: they write the same light markup a person may type -------------

  function selection(box) {
    return { start: box.selectionStart, end: box.selectionEnd, text: box.value.slice(box.selectionStart, box.selectionEnd) };
  }

  function replace(box, start, end, text, caretFrom, caretTo) {
    box.setRangeText(text, start, end, "end");
    box.setSelectionRange(start + caretFrom, start + caretTo);
    box.focus();
  }

  function wrap(box, mark, placeholder) {
    var s = selection(box);
    var inner = s.text || placeholder;
    replace(box, s.start, s.end, mark + inner + mark, mark.length, mark.length + inner.length);
  }

  function prefixLines(box, numbered) {
    var lineStart = box.value.lastIndexOf("\n", box.selectionStart - 1) + 1;
    var end = box.selectionEnd;
    var lines = (box.value.slice(lineStart, end) || "").split("\n");
    var text = lines.map(function (line, i) {
      return (numbered ? (i + 1) + ". " : "- ") + line;
    }).join("\n");
    var before = lineStart > 0 && box.value.charAt(lineStart - 1) !== "\n" ? "\n" : "";
    replace(box, lineStart, end, before + text, before.length + text.length, before.length + text.length);
  }

  function link(box) {
    var s = selection(box);
    var label = s.text || "link text";
    var text = "[" + label + "](https://)";
    // Leave the caret where the address goes.
    replace(box, s.start, s.end, text, label.length + 11, label.length + 11);
  }

  var ACTIONS = [
    ["Bold", "B", function (box) { wrap(box, "**", "bold text"); }],
    ["Italic", "I", function (box) { wrap(box, "*", "italic text"); }],
    ["Bulleted list", "• List", function (box) { prefixLines(box, false); }],
    ["Numbered list", "1. List", function (box) { prefixLines(box, true); }],
    ["Link", "Link", link]
  ];

  function toolbar(box) {
    var bar = document.createElement("div");
    bar.className = "toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Formatting");
    bar.setAttribute("aria-controls", box.id);
    ACTIONS.forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "tool";
      button.textContent = action[1];
      button.setAttribute("aria-label", action[0]);
      button.title = action[0];
      button.addEventListener("click", function () { action[2](box); });
      bar.appendChild(button);
    });
    box.parentNode.insertBefore(bar, box);
  }

  // --- Area of Responsibility: Available and Chosen lists over the form's own multi-select ---

  function listBox(id, label) {
    var box = document.createElement("div");
    box.className = "picker-list";
    var title = document.createElement("label");
    title.htmlFor = id;
    title.textContent = label;
    var list = document.createElement("select");
    list.id = id;
    list.multiple = true;
    list.size = 8;
    box.appendChild(title);
    box.appendChild(list);
    return { box: box, list: list };
  }

  function pickerButton(text, label) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = text;
    button.setAttribute("aria-label", label);
    return button;
  }

  function picker(field) {
    var source = field.querySelector("select[multiple]");
    var how = document.getElementById(source.id + "-how");
    var available = listBox(source.id + "-available", "Available");
    var chosen = listBox(source.id + "-chosen", "Chosen");
    var add = pickerButton("Add ›", "Add to Chosen");
    var remove = pickerButton("‹ Remove", "Remove from Chosen");
    var status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    var group = document.createElement("div");
    group.className = "picker-lists";
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", source.id + "-label");
    var buttons = document.createElement("div");
    buttons.className = "picker-buttons";
    buttons.appendChild(add);
    buttons.appendChild(remove);
    group.appendChild(available.box);
    group.appendChild(buttons);
    group.appendChild(chosen.box);

    // Both lists are drawn from the form's select, which stays the one that is sent.
    function draw() {
      available.list.textContent = "";
      chosen.list.textContent = "";
      Array.prototype.forEach.call(source.options, function (option) {
        var copy = new Option(option.text, option.value);
        (option.selected ? chosen : available).list.appendChild(copy);
      });
      status.textContent = chosen.list.options.length + " chosen";
    }

    function move(from, selected) {
      var values = Array.prototype.filter.call(from.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
      Array.prototype.forEach.call(source.options, function (option) {
        if (values.indexOf(option.value) >= 0) {
          option.selected = selected;
        }
      });
      draw();
    }

    add.addEventListener("click", function () { move(available.list, true); });
    remove.addEventListener("click", function () { move(chosen.list, false); });
    available.list.addEventListener("dblclick", function () { move(available.list, true); });
    chosen.list.addEventListener("dblclick", function () { move(chosen.list, false); });
    source.hidden = true;
    source.removeAttribute("aria-describedby");
    if (how) {
      how.hidden = true;
    }
    document.getElementById(source.id + "-label").removeAttribute("for");
    source.parentNode.insertBefore(group, source);
    source.parentNode.insertBefore(status, source);
    draw();
  }

  function enhance() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-drop-for]"), wire);
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-markup]"), toolbar);
    Array.prototype.forEach.call(document.querySelectorAll("[data-picker]"), picker);
  }

  document.addEventListener("DOMContentLoaded", enhance);
})();
