// Runbooks and post-mortems: show why an htmx write was refused (409/400 answers carry a
// "vigilError" event with the message; the page itself stays as it was).
document.body.addEventListener("vigilError", (event) => {
  const message = event.detail && event.detail.message;
  if (!message) return;
  const main = document.getElementById("main");
  if (!main) return;
  let list = main.querySelector(":scope > ul.messages");
  if (!list) {
    list = document.createElement("ul");
    list.className = "messages";
    list.setAttribute("role", "status");
    main.prepend(list);
  }
  const item = document.createElement("li");
  item.className = "message error";
  item.textContent = message;
  list.replaceChildren(item);
});
