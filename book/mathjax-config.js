// MathJax 3 settings, read by mathjax/tex-svg.js which loads right after this file.
// Delimiters: \( … \) inline and \[ … \] display, written \\( and \\[ in Markdown.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]] },
  svg: { fontCache: "global" },
  options: { enableMenu: false },
};
