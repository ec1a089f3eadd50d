"""Built-in model cards shipped with the package."""
