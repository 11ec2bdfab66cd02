// Set-up pages: copy buttons. Without JavaScript the text stays selectable in its <pre>.
(() => {
  "use strict";
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    event.preventDefault();
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      const before = button.textContent;
      button.textContent = button.dataset.copied || "Copied";
      setTimeout(() => { button.textContent = before; }, 1500);
    });
  });
})();
