"""Development tools of the repository (not shipped): the documentation site's generated references."""
