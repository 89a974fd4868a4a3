// A service worker of the benign app: registered on the forward's own origin.
self.addEventListener('install', () => self.skipWaiting());
