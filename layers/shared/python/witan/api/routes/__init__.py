"""One Router per area. `ROUTERS` is what the app includes; add a module here to add an area
(the model-run routes, POST/GET /model-runs, come as another Router)."""
