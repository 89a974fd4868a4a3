// A module script (fetched in CORS mode: needs the sandbox's CORS answer).
window.report('module script', 'ran');
