"""The role-events Lambda: role table stream → ``role_change`` audit events + authorizer cache flush."""
