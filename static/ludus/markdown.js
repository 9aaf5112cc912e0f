/* A small, safe Markdown renderer: it builds DOM nodes and sets text with textContent only,
   so no contestant text is ever parsed as HTML (no HTML-string assignment anywhere).
   Supports fenced code blocks, headings, lists, block quotes, paragraphs, inline code,
   bold, italic and http(s) links. Anything else is shown as the literal text. */
(function (global) {
  "use strict";

  function inline(parent, text) {
    // Tokens: `code`, **bold**, *italic* / _italic_, [label](http...)
    var re = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|((?<![\w])_[^_\s][^_\n]*_(?![\w]))|(\[[^\]\n]+\]\((https?:\/\/[^\s)]+)\))/g;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var tok = m[0], node;
      if (m[1]) { node = document.createElement("code"); node.textContent = tok.slice(1, -1); }
      else if (m[2]) { node = document.createElement("strong"); inline(node, tok.slice(2, -2)); }
      else if (m[3] || m[4]) { node = document.createElement("em"); inline(node, tok.slice(1, -1)); }
      else {
        node = document.createElement("a");
        node.textContent = tok.slice(1, tok.indexOf("]("));
        node.setAttribute("href", m[6]);
        node.setAttribute("rel", "nofollow noopener noreferrer");
        node.setAttribute("target", "_blank");
      }
      parent.appendChild(node);
      last = m.index + tok.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(target, source) {
    target.textContent = "";
    var lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    var i = 0, para = [];
    function flush() {
      if (!para.length) return;
      var p = document.createElement("p");
      para.forEach(function (l, k) { if (k) p.appendChild(document.createElement("br")); inline(p, l); });
      target.appendChild(p);
      para = [];
    }
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s*(```|~~~)\s*([\w+#.-]*)\s*$/.exec(line);
      if (fence) {
        flush();
        var code = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(fence[1]) !== 0) { code.push(lines[i]); i++; }
        i++;
        var pre = document.createElement("pre"), c = document.createElement("code");
        if (fence[2]) c.setAttribute("data-lang", fence[2]);
        c.textContent = code.join("\n");
        pre.appendChild(c);
        target.appendChild(pre);
        continue;
      }
      var h = /^(#{1,6})\s+(.*)$/.exec(line);
      if (h) {
        flush();
        var hn = document.createElement("h" + Math.min(6, h[1].length + 2));
        inline(hn, h[2]);
        target.appendChild(hn);
        i++; continue;
      }
      var li = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
      if (li) {
        flush();
        var ordered = /\d/.test(li[1]);
        var list = document.createElement(ordered ? "ol" : "ul");
        while (i < lines.length) {
          var mm = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]);
          if (!mm || /\d/.test(mm[1]) !== ordered) break;
          var item = document.createElement("li");
          inline(item, mm[2]);
          list.appendChild(item);
          i++;
        }
        target.appendChild(list);
        continue;
      }
      if (/^\s*>\s?/.test(line)) {
        flush();
        var bq = document.createElement("blockquote"), quoted = [];
        while (i < lines.length && /^\s*>\s?/.test(lines[i])) { quoted.push(lines[i].replace(/^\s*>\s?/, "")); i++; }
        render(bq, quoted.join("\n"));
        target.appendChild(bq);
        continue;
      }
      if (!line.trim()) { flush(); i++; continue; }
      para.push(line);
      i++;
    }
    flush();
  }

  global.LudusMarkdown = { render: render };
})(window);
