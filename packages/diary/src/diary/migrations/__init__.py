"""diary's alembic environment: ``env.py`` and the revisions in ``versions/``.

They ship inside the package (script location ``diary:migrations``) so an installed wheel can
create and upgrade its database on first use.
"""
