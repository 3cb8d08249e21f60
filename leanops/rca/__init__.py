"""leanops.rca."""
