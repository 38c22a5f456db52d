"""buildlog's alembic environment (``buildlog:migrations``): env.py and versions/."""
