"""Foundation tests (a package, so their module names cannot clash with other areas' test files)."""
