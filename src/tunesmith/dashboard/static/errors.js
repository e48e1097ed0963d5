// Loaded before plotly.js so that any error, even while plotly loads, is recorded in #ts-status.
window.__tsErrors = [];
window.addEventListener("error", function (e) { window.__tsErrors.push(String(e.message || e)); });
window.addEventListener("unhandledrejection", function (e) { window.__tsErrors.push("unhandled: " + e.reason); });
document.addEventListener("securitypolicyviolation", function (e) {
  window.__tsErrors.push("blocked by the content security policy: " + e.violatedDirective + " " + e.blockedURI);
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__tsErrors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();
