// Light/night switch: the classes Anki desktop (nightMode, night_mode) puts on the page.
(function () {
  var button = document.getElementById("ag-mode");
  var body = document.body;
  function apply(night) {
    body.classList.toggle("nightMode", night);
    body.classList.toggle("night_mode", night);
    button.textContent = night ? "Light mode" : "Night mode";
    button.setAttribute("aria-pressed", night ? "true" : "false");
  }
  var query = new URLSearchParams(window.location.search).get("mode");
  var stored = null;
  try { stored = window.localStorage.getItem("ankigen-mode"); } catch (e) { stored = null; }
  apply(query ? query === "night" : stored === "night");
  button.addEventListener("click", function () {
    var night = !body.classList.contains("nightMode");
    apply(night);
    try { window.localStorage.setItem("ankigen-mode", night ? "night" : "light"); } catch (e) { /* file:// */ }
  });
})();
