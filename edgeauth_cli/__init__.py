"""The ``edgeauth`` command: manage roles, subjects, groups and clients; explain; revoke; audit."""
