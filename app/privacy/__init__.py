"""A caller's data under UK GDPR: retention and its purge, subject access and erasure, the audit
of every read of personal data, and data-key rotation."""
