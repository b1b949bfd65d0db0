"""The boundaries of lorafox's use cases: what they need from a database (``store``,
``statistics``, ``locations``) and from a message bus (``bus``), as Protocols.

The use cases (``devices``, ``identity``, ``events``, ``downlinks``, ``ingest``) import these
and nothing of the adapters; ``lorafox.store.sql`` implements the database ports and
``lorafox.bus`` the bus port.
"""
