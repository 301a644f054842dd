"""One thin module per page; each composes components over the query services."""
