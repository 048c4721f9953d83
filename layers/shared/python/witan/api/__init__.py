"""The datastore API: a Powertools REST resolver with one Router per area (witan.api.routes.*)."""
