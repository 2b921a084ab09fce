// 返回上一页 on an error page goes back in the browser's history, where a form keeps what was
// typed; the link's own address (the referring page) is for a first page with no history.
document.getElementById("go-back")?.addEventListener("click", (event) => {
  if (window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
