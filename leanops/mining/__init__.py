"""leanops.mining."""
