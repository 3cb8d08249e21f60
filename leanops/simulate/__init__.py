"""leanops.simulate."""
