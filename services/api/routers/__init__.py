"""The read API's routes, one module per concern; ``services/api/app.py`` mounts them."""
