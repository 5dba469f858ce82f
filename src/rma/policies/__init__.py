"""Policy files shipped with the package (data, not code)."""
