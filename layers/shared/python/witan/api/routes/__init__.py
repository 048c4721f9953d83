"""One Router per area. `witan.api.app.AREAS` says which module serves which first path segment; add a
module here and a line there to add an area."""
