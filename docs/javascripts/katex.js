// KaTeX (vendored in docs/katex, no CDN) renders the maths that pymdownx.arithmatex (generic mode) wraps
// in <span class="arithmatex">\( ... \)</span> and <div class="arithmatex">\[ ... \]</div>.
// document$ is mkdocs-material's page-load stream (also fires on instant navigation).
document$.subscribe(({ body }) => {
  body.querySelectorAll(".arithmatex").forEach((element) => {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
});
