// Press "Sign in" for the person when JavaScript is on; link previewers (no JavaScript) never use the link up.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("signin");
  if (form) form.submit();
});
