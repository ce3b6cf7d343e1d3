"""Local stand-ins of the outside services (payments, SMS, push) on loopback, each checking what
the real service checks and signing what it signs; the real SDKs reach them through the
base-URL settings. Used by the tests and by `corner dev` when no credentials are set.
Nothing here is imported by the application's request paths."""
