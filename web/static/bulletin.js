// The bulletin's 打印 button. A file of its own: the site's Content-Security-Policy runs no
// script written inside a page, an onclick attribute included.
document.getElementById("print-bulletin").addEventListener("click", () => window.print());
