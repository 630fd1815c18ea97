"""Production fault drills (``make drill``): each script starts a dedicated stack on
loopback, injects one fault under load, checks the outcome and prints one verdict line."""
